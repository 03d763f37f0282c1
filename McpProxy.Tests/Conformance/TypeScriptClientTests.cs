using System.Diagnostics;
using System.Text.Json;
using McpProxy.Tests.Infrastructure;

namespace McpProxy.Tests.Conformance;

/// <summary>The official TypeScript SDK client (from npm) against the proxy: a second, independent MCP implementation.</summary>
public sealed class TypeScriptClientTests
{
    [Fact]
    public async Task TypeScript_sdk_client_lists_calls_reads_and_hears_list_changed()
    {
        await using var proxy = await ProxyHost.StartAsync(TestPaths.SampleStdioBackend("s"));
        var output = await RunNodeAsync(Path.Combine(TestPaths.RepoRoot, "McpProxy.Tests", "node", "ts-client.mjs"), proxy.McpEndpoint.ToString());
        var seen = JsonDocument.Parse(output).RootElement;

        Assert.Equal("test-proxy", seen.GetProperty("server").GetProperty("name").GetString());
        Assert.Contains("s/echo", seen.GetProperty("tools").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal("from ts", seen.GetProperty("echo").GetString());
        Assert.Equal("done 3 steps", seen.GetProperty("slow").GetString());
        // Progress relayed under the caller's token, every notification before the result (the TypeScript client drops
        // progress that arrives after it): the proxy relays in the order the backend sent.
        Assert.Equal([1, 2, 3], seen.GetProperty("progress").EnumerateArray().Select(p => p.GetInt32()));
        Assert.Contains("s/greet", seen.GetProperty("prompts").EnumerateArray().Select(p => p.GetString()));
        Assert.Equal("Hello, TS!", seen.GetProperty("prompt").GetString());
        Assert.Equal("McpProxy sample backend", seen.GetProperty("resource").GetString());
        Assert.Equal("s/sample://info", seen.GetProperty("resourceUri").GetString());
        Assert.Equal(-32602, seen.GetProperty("unknownError").GetProperty("code").GetInt32());
        Assert.Contains("s/does_not_exist", seen.GetProperty("unknownError").GetProperty("message").GetString());
        Assert.True(seen.GetProperty("listChanged").GetInt32() >= 1);
    }

    private static async Task<string> RunNodeAsync(string script, params string[] args)
    {
        var psi = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = TestPaths.RepoRoot };
        psi.ArgumentList.Add(script);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(cts.Token);
        Assert.True(process.ExitCode == 0, $"node exited {process.ExitCode}: {await stderr}");
        return (await stdout).Trim();
    }
}
