using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
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

    private static readonly string[] ExpectedDirect =
    [
        "logging-set-level", "ping", "prompts-list", "resources-list", "resources-subscribe", "resources-unsubscribe",
        "server-initialize", "server-sse-multiple-streams", "tools-call-error", "tools-call-simple-text", "tools-list",
    ];

    private static readonly string[] ExpectedThroughProxyOnly = ["dns-rebinding-protection", "server-session-lifecycle"];

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

            await using var proxy = await ProxyHost.StartAsync(TestPaths.EverythingStdioBackend("everything", "namespaced = false"));
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

    /// <summary>Runs every active server scenario (the 2025-11-25 wire) against <paramref name="url"/>; scenario → passed.</summary>
    private Task<Dictionary<string, bool>> RunSuiteAsync(Uri url, string label) =>
        ConformanceSuite.RunAsync(url, _dir, label, minimumScenarios: 20);

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
