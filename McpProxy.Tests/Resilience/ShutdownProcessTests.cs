using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using McpProxy.Tests.Infrastructure;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Resilience;

/// <summary>
/// Shutdown of the proxy as a real process, signalled as an orchestrator (SIGTERM) or a terminal (Ctrl-C: SIGINT to the
/// foreground process group) does: the listener answers during the drain, the calls in flight finish, the stdio
/// children are the proxy's to stop, and nothing restarts.
/// </summary>
public sealed class ShutdownProcessTests : IDisposable
{
    private static string ProxyDll => Path.Combine(AppContext.BaseDirectory, "McpProxy.Api.dll");
    private static CancellationToken Ct => TestContext.Timeout(90);
    private readonly string _dir = Directory.CreateTempSubdirectory("mcp-proxy-shutdown-").FullName;

    [Fact]
    public async Task SIGTERM_keeps_answering_during_the_drain_refuses_new_calls_turns_health_503_and_exits_0()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // POSIX signals
        }

        var port = FreePort();
        using var proxy = StartProxy(Config(port, shutdownTimeoutSeconds: 30, TestPaths.SampleStdioBackend("t")), ownProcessGroup: false);
        var endpoint = new Uri($"http://127.0.0.1:{port}/mcp");
        await proxy.WaitForHealthAsync(new Uri($"http://127.0.0.1:{port}/health"), Ct);

        await using var client = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions { Endpoint = endpoint }), cancellationToken: Ct);
        var otherChild = (int)JsonNode.Parse(Text(await client.CallToolAsync("t/stats", cancellationToken: Ct)))!["pid"]!;
        // Long enough that the drain is still waiting for it when the late call and the probe arrive, even on a loaded machine.
        var inFlight = client.CallToolAsync("s/sleep", new Dictionary<string, object?> { ["ms"] = 8000 }, cancellationToken: Ct).AsTask();
        await WaitForBackendCallsAsync(client, atLeast: 1);

        Signal("TERM", proxy.Process.Id);
        await proxy.WaitForLineAsync("Shutting down: draining", Ct);

        // The listener is still up: a new call gets an answer, the documented refusal.
        var refused = await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync("s/echo", new Dictionary<string, object?> { ["message"] = "late" }, cancellationToken: Ct).AsTask());
        Assert.Equal(McpErrorCode.InternalError, refused.ErrorCode);
        Assert.Contains("shutting down", refused.Message, StringComparison.Ordinal);

        // The load balancer's probe says "not ready" while the proxy drains.
        using (var http = new HttpClient())
        {
            using var health = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/health"), Ct);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        }

        // Another child dies during the drain: once shutdown has begun it is not restarted.
        Signal("KILL", otherChild);
        await proxy.WaitForLineAsync("Backend 't' went away", Ct);

        // The call in flight completes, then the process exits cleanly.
        Assert.Equal("slept", Text(await inFlight));
        await proxy.WaitForExitAsync("SIGTERM");
        Assert.Equal(0, proxy.Process.ExitCode);
        var log = await proxy.Stdout;
        Assert.DoesNotContain("Backend 't' ready", log[log.IndexOf("Shutting down: draining", StringComparison.Ordinal)..], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ctrl_C_to_the_proxys_process_group_reaches_the_proxy_not_its_stdio_children_and_nothing_restarts()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // POSIX process groups
        }

        var port = FreePort();
        // The proxy leads its own process group, as a shell's foreground job does; the terminal's Ctrl-C is SIGINT to it.
        using var proxy = StartProxy(Config(port, shutdownTimeoutSeconds: 30), ownProcessGroup: true);
        await proxy.WaitForHealthAsync(new Uri($"http://127.0.0.1:{port}/health"), Ct);

        await using var client = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions { Endpoint = new Uri($"http://127.0.0.1:{port}/mcp") }), cancellationToken: Ct);
        var childPid = (int)JsonNode.Parse(Text(await client.CallToolAsync("s/stats", cancellationToken: Ct)))!["pid"]!;
        var inFlight = client.CallToolAsync("s/sleep", new Dictionary<string, object?> { ["ms"] = 3000 }, cancellationToken: Ct).AsTask();
        await WaitForBackendCallsAsync(client, atLeast: 2);

        Signal("INT", -proxy.Process.Id);

        // Had the child received the SIGINT it would have stopped and failed the call; it finishes it, because only the
        // proxy was signalled, and the proxy drains before it stops the child.
        Assert.Equal("slept", Text(await inFlight));
        await proxy.WaitForExitAsync("SIGINT to its process group");
        Assert.Equal(0, proxy.Process.ExitCode);
        Assert.True(await TestCalls.HasExitedAsync(childPid), "the stdio child is still running after the proxy exited");

        var log = await proxy.Stdout;
        var shutdownAt = log.IndexOf("Shutting down: draining", StringComparison.Ordinal);
        Assert.True(shutdownAt >= 0, log);
        var afterShutdown = log[shutdownAt..];
        Assert.DoesNotContain("went away", afterShutdown, StringComparison.Ordinal);
        Assert.DoesNotContain("' ready:", afterShutdown, StringComparison.Ordinal);
    }

    private string Config(int port, int shutdownTimeoutSeconds, string moreBackends = "")
    {
        var path = Path.Combine(_dir, $"proxy-{port}.toml");
        File.WriteAllText(path, $"""
            [proxy]
            name = "shutdown-process"
            shutdown_timeout_seconds = {shutdownTimeoutSeconds}
            [proxy.listen]
            port = {port}

            {TestPaths.SampleStdioBackend("s")}
            {moreBackends}
            """);
        return path;
    }

    /// <summary>Waits until the sample backend has begun <paramref name="atLeast"/> calls besides the <c>stats</c> calls that ask.</summary>
    private static async Task WaitForBackendCallsAsync(McpClient client, int atLeast)
    {
        for (var asked = 1; ; asked++)
        {
            var calls = (long)JsonNode.Parse(Text(await client.CallToolAsync("s/stats", cancellationToken: Ct)))!["toolCalls"]!;
            if (calls - asked >= atLeast)
            {
                return;
            }

            Ct.ThrowIfCancellationRequested();
        }
    }

    private static string Text(CallToolResult result) => Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text;

    private static void Signal(string signal, int pidOrGroup)
    {
        using var kill = Process.Start("kill", [$"-{signal}", "--", pidOrGroup.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    private static ProxyProcess StartProxy(string configPath, bool ownProcessGroup)
    {
        // With its own process group it is started as a terminal's foreground job would be: SIGINT at its default. A
        // test run started in the background by a non-interactive shell inherits SIGINT ignored, which exec keeps (and
        // the .NET runtime then leaves ignored, as it should for a daemon started that way), so perl (Debian's
        // essential perl-base) resets it before it execs setsid, which execs the proxy: one process, same pid.
        var psi = new ProcessStartInfo(ownProcessGroup ? "perl" : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = TestPaths.RepoRoot,
        };
        if (ownProcessGroup)
        {
            foreach (var argument in new[] { "-e", "$SIG{INT} = 'DEFAULT'; exec { $ARGV[0] } @ARGV or die \"exec: $!\"", "setsid", "dotnet" })
            {
                psi.ArgumentList.Add(argument);
            }
        }

        psi.ArgumentList.Add(ProxyDll);
        psi.ArgumentList.Add("--config");
        psi.ArgumentList.Add(configPath);
        return new ProxyProcess(Process.Start(psi)!);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A proxy process whose stdout is read line by line, so a test can wait for a log line.</summary>
    private sealed class ProxyProcess : IDisposable
    {
        private readonly ConcurrentQueue<string> _lines = new();
        private readonly SemaphoreSlim _lineRead = new(0);
        private readonly System.Text.StringBuilder _all = new();

        public ProxyProcess(Process process)
        {
            Process = process;
            Stdout = ReadAllAsync(process.StandardOutput);
            _ = process.StandardError.ReadToEndAsync();
        }

        public Process Process { get; }

        /// <summary>All of stdout, once the process has closed it.</summary>
        public Task<string> Stdout { get; }

        public async Task WaitForLineAsync(string contains, CancellationToken cancellationToken)
        {
            while (true)
            {
                while (_lines.TryDequeue(out var line))
                {
                    if (line.Contains(contains, StringComparison.Ordinal))
                    {
                        return;
                    }
                }

                if (Stdout.IsCompleted)
                {
                    Assert.Fail($"the proxy never logged '{contains}':\n{await Stdout}");
                }

                await _lineRead.WaitAsync(cancellationToken);
            }
        }

        /// <summary>Waits for the process to exit; if it does not in time, fails with what it logged so far.</summary>
        public async Task WaitForExitAsync(string after)
        {
            try
            {
                await Process.WaitForExitAsync(Ct);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"the proxy did not exit within 90 s after {after}; its log so far:\n{LogSoFar()}");
            }
        }

        public async Task WaitForHealthAsync(Uri health, CancellationToken cancellationToken)
        {
            using var http = new HttpClient();
            while (true)
            {
                try
                {
                    if ((await http.GetAsync(health, cancellationToken)).IsSuccessStatusCode)
                    {
                        return;
                    }
                }
                catch (HttpRequestException)
                {
                }

                Assert.False(Process.HasExited, "the proxy exited before it was healthy");
                await Task.Delay(100, cancellationToken); // polling a port that is not open yet: there is nothing else to wait on
            }
        }

        private async Task<string> ReadAllAsync(StreamReader reader)
        {
            while (await reader.ReadLineAsync() is { } line)
            {
                lock (_all)
                {
                    _all.AppendLine(line);
                }

                _lines.Enqueue(line);
                _lineRead.Release();
            }

            _lineRead.Release();
            return LogSoFar();
        }

        private string LogSoFar()
        {
            lock (_all)
            {
                return _all.ToString();
            }
        }

        public void Dispose()
        {
            if (!Process.HasExited)
            {
                Process.Kill(entireProcessTree: true);
                Process.WaitForExit(10_000);
            }

            Process.Dispose();
        }
    }
}
