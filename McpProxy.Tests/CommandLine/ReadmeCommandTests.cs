using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using McpProxy.Tests.Infrastructure;
using ModelContextProtocol.Client;
using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.CommandLine;

/// <summary>
/// The README's own commands, taken from its code blocks and run literally with bash from the repository root, as a
/// newcomer types them — so the README cannot drift from what works. One class: the commands build with
/// <c>dotnet run</c>, and two builds of one project must not run at once.
/// </summary>
public sealed partial class ReadmeCommandTests
{
    private static readonly string Readme = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "README.md"));

    [Fact]
    public async Task The_README_check_command_works_as_typed_from_the_repository_root()
    {
        var command = Assert.Single(BashLines(), l => l.StartsWith("dotnet run --project McpProxy.Api -- --check", StringComparison.Ordinal));

        using var run = Bash(command);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await run.Process.WaitForExitAsync(timeout.Token);

        Assert.True(run.Process.ExitCode == 0, $"'{command}' exited {run.Process.ExitCode}: {await run.Stderr}");
        Assert.Contains("mcp-proxy.toml: OK", await run.Stdout);
    }

    [Fact]
    public async Task The_README_quick_start_command_starts_the_proxy_from_the_repository_root()
    {
        var quickStart = Readme[Readme.IndexOf("## Quick start", StringComparison.Ordinal)..];
        var command = BashLines(quickStart).First(l => l.StartsWith("dotnet run --project McpProxy.Api", StringComparison.Ordinal));
        Assert.Contains("--config mcp-proxy.toml", command);

        // The command is run as written; only the proxy's address moves (ASPNETCORE_URLS, which the README documents
        // as overriding [proxy.listen]) so the test never fights a proxy a developer runs on 8080.
        var port = FreePort();
        using var run = Bash(command, new() { ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}" });

        var endpoint = new Uri($"http://127.0.0.1:{port}/mcp");
        await WaitUntilAsync(async http => (await http.GetAsync(new Uri($"http://127.0.0.1:{port}/health"))).IsSuccessStatusCode, run);

        await using var client = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions { Endpoint = endpoint }));
        var tools = await client.ListToolsAsync();
        Assert.Contains(tools, t => t.Name == "sample__echo");
    }

    [Fact]
    public async Task The_README_publish_commands_produce_a_clean_runnable_proxy()
    {
        // The first block of "Running as a service": the publish command, then the published proxy checking the config.
        var section = Readme[Readme.IndexOf("## Running as a service", StringComparison.Ordinal)..];
        var block = BashBlock().Match(section).Groups[1].Value;
        var commands = block.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal("dotnet publish McpProxy.Api -c Release", commands[0]);

        foreach (var command in commands)
        {
            using var run = Bash(command);
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(8));
            await run.Process.WaitForExitAsync(timeout.Token);
            Assert.True(run.Process.ExitCode == 0, $"'{command}' exited {run.Process.ExitCode}: {await run.Stdout}{await run.Stderr}");
            if (command.Contains("--check", StringComparison.Ordinal))
            {
                Assert.Contains("mcp-proxy.toml: OK", await run.Stdout);
            }
        }

        // Only the proxy: no sample backend launcher (its dll is not there), no satellite resource folders, no IIS file.
        var publish = Path.Combine(TestPaths.RepoRoot, "McpProxy.Api", "bin", "Release", "net10.0", "publish");
        var files = Directory.GetFiles(publish).Select(Path.GetFileName).ToList();
        Assert.Contains("McpProxy.Api.dll", files);
        Assert.DoesNotContain(files, f => f!.StartsWith("McpProxy.Backends.Sample", StringComparison.Ordinal));
        Assert.DoesNotContain("web.config", files);
        Assert.Empty(Directory.GetDirectories(publish));
    }

    [Fact]
    public async Task The_container_image_is_configured_as_the_README_says()
    {
        // No container engine or registry here: the SDK's own computation of the image settings is what is checked.
        using var run = Bash("dotnet msbuild McpProxy.Api -nologo -t:ComputeContainerConfig -p:Configuration=Release " +
            "-getProperty:ContainerRepository -getProperty:ContainerImageTag -getProperty:ContainerUser -getProperty:ContainerBaseImage " +
            "-getProperty:ContainerWorkingDirectory -getItem:ContainerPort -getItem:ContainerEnvironmentVariable");
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await run.Process.WaitForExitAsync(timeout.Token);
        var stdout = await run.Stdout;
        Assert.True(run.Process.ExitCode == 0, stdout + await run.Stderr);

        var json = System.Text.Json.Nodes.JsonNode.Parse(stdout)!;
        var properties = json["Properties"]!;
        Assert.Equal("mcp-proxy", (string?)properties["ContainerRepository"]);
        Assert.Equal("latest", (string?)properties["ContainerImageTag"]);
        Assert.Equal("app", (string?)properties["ContainerUser"]);
        Assert.Equal("mcr.microsoft.com/dotnet/aspnet:10.0", (string?)properties["ContainerBaseImage"]);
        Assert.Equal("/app", (string?)properties["ContainerWorkingDirectory"]);
        var port = Assert.Single(json["Items"]!["ContainerPort"]!.AsArray());
        Assert.Equal(("8080", "tcp"), ((string?)port!["Identity"], (string?)port["Type"]));
        var env = Assert.Single(json["Items"]!["ContainerEnvironmentVariable"]!.AsArray());
        Assert.Equal(("MCP_PROXY_CONFIG", "/app/mcp-proxy.toml"), ((string?)env!["Identity"], (string?)env["Value"]));

        // The README's table says the same.
        foreach (var documented in new[] { "`mcp-proxy`", "`app`", "`8080/tcp`", "`/app`", "`/app/mcp-proxy.toml`", "mcr.microsoft.com/dotnet/aspnet:10.0", "-t:PublishContainer" })
        {
            Assert.Contains(documented, Readme);
        }
    }

    /// <summary>Every line of the README's <c>```bash</c> blocks (comments and blank lines left out).</summary>
    private static IEnumerable<string> BashLines(string? text = null) =>
        BashBlock().Matches(text ?? Readme)
            .SelectMany(m => m.Groups[1].Value.Split('\n'))
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && !l.StartsWith('#'));

    [GeneratedRegex(@"```bash\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex BashBlock();

    private static RunningProcess Bash(string command, Dictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = TestPaths.RepoRoot };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(command);
        psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment.Remove("MCP_PROXY_CONFIG");
        foreach (var (k, v) in env ?? [])
        {
            psi.Environment[k] = v;
        }

        return new RunningProcess(Process.Start(psi)!);
    }

    private static async Task WaitUntilAsync(Func<HttpClient, Task<bool>> ready, RunningProcess run)
    {
        using var http = new HttpClient();
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(5); // dotnet run builds first; slow on a loaded machine
        while (DateTime.UtcNow < deadline)
        {
            Assert.False(run.Process.HasExited, $"the command exited with {(run.Process.HasExited ? run.Process.ExitCode : 0)}: {(run.Process.HasExited ? await run.Stderr : "")}");
            try
            {
                if (await ready(http))
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(250);
        }

        Assert.Fail("the proxy never became healthy");
    }
}
