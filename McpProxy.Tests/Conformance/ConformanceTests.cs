using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using McpProxy.Tests.Infrastructure;
using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Conformance;

/// <summary>
/// The official MCP conformance suite (<c>@modelcontextprotocol/conformance</c>, server scenarios, pinned in
/// package.json) run against <c>@modelcontextprotocol/server-everything</c> directly (the reference) and through the
/// proxy fronting it (<c>namespaced = false</c>, so the scenarios' tool, prompt and resource names reach it unchanged).
/// Every scenario that passes directly must pass through the proxy, and both sets must match the checked-in baseline
/// (docs/conformance.md explains it), so a regression on either side fails the build.
/// </summary>
public sealed class ConformanceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mcp-proxy-conformance-").FullName;

    private static string Cli => Path.Combine(TestPaths.RepoRoot, "node_modules", "@modelcontextprotocol", "conformance", "dist", "index.js");

    private static readonly string[] ExpectedDirect =
    [
        "logging-set-level", "ping", "prompts-list", "resources-list", "resources-subscribe", "resources-unsubscribe",
        "server-initialize", "server-sse-multiple-streams", "tools-call-error", "tools-call-simple-text", "tools-list",
    ];

    private static readonly string[] ExpectedThroughProxyOnly = ["dns-rebinding-protection"];

    [Fact]
    public async Task Every_scenario_that_passes_against_server_everything_passes_through_the_proxy()
    {
        var port = FreePort();
        using var everything = Process.Start(new ProcessStartInfo("node", [TestPaths.EverythingServer, "streamableHttp"])
        {
            Environment = { ["PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        _ = everything.StandardOutput.ReadToEndAsync();
        _ = everything.StandardError.ReadToEndAsync();
        try
        {
            await WaitForPortAsync(port);
            var direct = await RunSuiteAsync(new Uri($"http://127.0.0.1:{port}/mcp"), "direct");

            await using var proxy = await ProxyHost.StartAsync($"""
                [[backends]]
                name = "everything"
                transport = "stdio"
                command = "node"
                args = [{TestPaths.Toml(TestPaths.EverythingServer)}, "stdio"]
                namespaced = false
                """);
            var throughProxy = await RunSuiteAsync(proxy.McpEndpoint, "proxy");

            var regressions = direct.Where(kv => kv.Value && !throughProxy.GetValueOrDefault(kv.Key)).Select(kv => kv.Key).ToList();
            Assert.True(regressions.Count == 0, "pass directly but fail through the proxy: " + string.Join(", ", regressions));

            Assert.Equal(ExpectedDirect.Order(), direct.Where(kv => kv.Value).Select(kv => kv.Key).Order());
            Assert.Equal(ExpectedDirect.Concat(ExpectedThroughProxyOnly).Order(), throughProxy.Where(kv => kv.Value).Select(kv => kv.Key).Order());
        }
        finally
        {
            everything.Kill(entireProcessTree: true);
        }
    }

    /// <summary>Runs every active server scenario against <paramref name="url"/>; scenario → passed (no FAILURE check).</summary>
    private async Task<Dictionary<string, bool>> RunSuiteAsync(Uri url, string label)
    {
        var output = Path.Combine(_dir, label);
        using var cli = Process.Start(new ProcessStartInfo("node", [Cli, "server", "--url", url.ToString(), "-o", output])
        {
            WorkingDirectory = _dir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var stdout = cli.StandardOutput.ReadToEndAsync();
        var stderr = cli.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(180));
        await cli.WaitForExitAsync(timeout.Token);

        var results = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var dir in Directory.GetDirectories(output))
        {
            // server-<scenario>-<timestamp>
            var name = System.Text.RegularExpressions.Regex.Match(Path.GetFileName(dir), @"^server-(.+)-\d{4}-\d{2}-\d{2}T").Groups[1].Value;
            var checks = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(dir, "checks.json")))!.AsArray();
            results[name] = checks.All(c => (string?)c!["status"] != "FAILURE");
        }

        Assert.True(results.Count >= 20, $"{label}: the suite ran {results.Count} scenarios\n{await stdout}\n{await stderr}");
        return results;
    }

    private static async Task WaitForPortAsync(int port)
    {
        for (var i = 0; i < 200; i++)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }

        Assert.Fail($"server-everything did not listen on {port}");
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
