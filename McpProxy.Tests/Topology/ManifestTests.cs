using System.Diagnostics;
using System.Text.Json.Nodes;
using McpProxy.AppHost;

namespace McpProxy.Tests.Topology;

/// <summary>
/// What <c>azd up</c> deploys: the AppHost's publish manifest (the file azd reads), produced by the real AppHost binary.
/// </summary>
public sealed class ManifestTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mcp-proxy-manifest-").FullName;

    [Fact]
    public async Task Publish_manifest_has_the_proxy_two_backends_and_redis_and_no_run_mode_only_resources()
    {
        var manifestPath = Path.Combine(_dir, "aspire-manifest.json");
        // The AppHost built next to the tests (same configuration): bin/<Configuration>/net10.0 of its project.
        var appHostDll = Path.GetFullPath(AppContext.BaseDirectory.Replace("McpProxy.Tests", "McpProxy.AppHost", StringComparison.Ordinal) + "McpProxy.AppHost.dll");
        var psi = new ProcessStartInfo("dotnet", [appHostDll, "--operation", "publish", "--publisher", "manifest", "--output-path", manifestPath])
        {
            WorkingDirectory = Path.GetDirectoryName(appHostDll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync(TestContext.Timeout(90));
        Assert.True(process.ExitCode == 0, await stdout + await stderr);

        var resources = JsonNode.Parse(await File.ReadAllTextAsync(manifestPath))!["resources"]!.AsObject();

        var proxy = resources[TopologyNames.Proxy]!;
        Assert.Equal("project.v0", (string?)proxy["type"]);
        Assert.EndsWith("McpProxy.Api.csproj", (string?)proxy["path"], StringComparison.Ordinal);
        Assert.True((bool?)proxy["bindings"]!["http"]!["external"]);
        var env = proxy["env"]!;
        Assert.Equal($"/app/{TopologyNames.ConfigFileName}", (string?)env["MCP_PROXY_CONFIG"]);
        Assert.Equal("{cache.connectionString}", (string?)env["ConnectionStrings__cache"]);
        Assert.Equal("{sample-a.bindings.http.url}", (string?)env["services__sample-a__http__0"]);
        Assert.Equal("{sample-b.bindings.http.url}", (string?)env["services__sample-b__http__0"]);

        // The external endpoint is not open: the proxy's [auth] token and admin token are secret parameters azd prompts
        // for and stores as secrets, handed to the proxy as the variables its config expands.
        foreach (var (variable, parameter) in new[] { ("MCP_PROXY_TOKEN", "mcp-proxy-token"), ("MCP_PROXY_ADMIN_TOKEN", "mcp-proxy-admin-token") })
        {
            Assert.Equal($"{{{parameter}.value}}", (string?)env[variable]);
            Assert.Equal("parameter.v0", (string?)resources[parameter]!["type"]);
            Assert.True((bool?)resources[parameter]!["inputs"]!["value"]!["secret"]);
        }

        foreach (var sample in new[] { TopologyNames.SampleA, TopologyNames.SampleB })
        {
            Assert.Equal("project.v0", (string?)resources[sample]!["type"]);
            Assert.Equal(sample, (string?)resources[sample]!["env"]!["SAMPLE_NAME"]);
        }

        // Redis: the container, with a generated password parameter azd stores as a secret.
        Assert.Equal("container.v0", (string?)resources[TopologyNames.Cache]!["type"]);
        Assert.Contains("password=", (string?)resources[TopologyNames.Cache]!["connectionString"], StringComparison.Ordinal);

        // Jaeger is a run-mode convenience; nothing in the manifest may point at it.
        Assert.Null(resources[TopologyNames.Jaeger]);
        Assert.DoesNotContain("jaeger", resources.ToJsonString(), StringComparison.Ordinal);

        // The proxy's build output carries the topology config the container reads at /app.
        Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(appHostDll)!.Replace("McpProxy.AppHost", "McpProxy.Api", StringComparison.Ordinal), TopologyNames.ConfigFileName)));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
