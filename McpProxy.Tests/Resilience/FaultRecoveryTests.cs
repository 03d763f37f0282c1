using System.Diagnostics;
using System.Text.Json.Nodes;
using McpProxy.Sessions;
using McpProxy.Security;
using McpProxy.Mirroring;
using McpProxy.Backends;
using McpProxy.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Resilience;

/// <summary>
/// A backend that crashes and is restarted: its items answer "backend unavailable, retry" all through the gap (never
/// "unknown tool"), a call cut by the crash or by the shutdown timeout says what happened, and these expected
/// failures log one warning line, never a stack trace at error level.
/// </summary>
public sealed class FaultRecoveryTests
{
    private static CancellationToken Ct => TestContext.Timeout(90);

    [Fact]
    public async Task While_a_backend_restarts_its_items_answer_backend_unavailable_never_unknown_tool()
    {
        // n: namespaced, echo aliased to "n/say"; p: namespaced = false, add aliased to "sum".
        var toml = TestPaths.SampleStdioBackend("n") + "[[backends.aliases]]\nfrom = \"echo\"\nto = \"say\"\n\n"
            + TestPaths.SampleStdioBackend("p") + "namespaced = false\n[[backends.aliases]]\nfrom = \"add\"\nto = \"sum\"\n";
        BackendConnection? restarting = null;
        using var gate = new LogGate((category, message) =>
            category == "McpProxy.Backends" && restarting is { } b && message.StartsWith($"Backend '{b.Name}' ready", StringComparison.Ordinal));
        var logs = new CapturingLoggerProvider();
        await using var proxy = await ProxyHost.StartAsync(toml, logging: l => l.AddProvider(logs).AddProvider(gate));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);
        var registry = proxy.Services.GetRequiredService<BackendRegistry>();

        (string Backend, string Tool, Dictionary<string, object?> Args)[] items =
        [
            ("n", "n/say", Message("x")),
            ("n", "n/add", Numbers()),
            ("p", "echo", Message("x")),
            ("p", "sum", Numbers()),
        ];

        foreach (var name in new[] { "n", "p" })
        {
            var backend = registry.Backends.Single(b => b.Name == name);
            var mine = items.Where(i => i.Backend == name).ToArray();
            foreach (var (_, tool, args) in mine)
            {
                Assert.NotEqual(true, (await client.CallToolAsync(tool, args, cancellationToken: Ct)).IsError);
            }

            // Kill the child; calls in the gap get the retryable error naming the backend.
            restarting = backend;
            gate.Arm();
            var restarts = backend.Restarts;
            Process.GetProcessById(await ChildPidAsync(client, name == "n" ? "n/stats" : "stats")).Kill();
            await WaitUntil(() => backend.State != BackendState.Ready);
            foreach (var (_, tool, args) in mine)
            {
                var error = await Record.ExceptionAsync(() => client.CallToolAsync(tool, args, cancellationToken: Ct).AsTask());
                if (error is null)
                {
                    // Only possible once the restarted backend is back (a very slow machine): it is held at the gate.
                    Assert.True(gate.Reached.IsCompleted, $"{tool} succeeded while '{name}' was down");
                    continue;
                }

                var protocol = Assert.IsType<McpProtocolException>(error);
                Assert.Equal(McpErrorCode.InternalError, protocol.ErrorCode);
                Assert.Contains($"Backend '{name}' is unavailable", protocol.Message, StringComparison.Ordinal);
            }

            // Held at the moment the restarted backend reports itself ready: its items route (or say unavailable),
            // they are never unknown.
            await gate.Reached.WaitAsync(Ct);
            try
            {
                foreach (var (_, tool, args) in mine)
                {
                    try
                    {
                        Assert.NotEqual(true, (await client.CallToolAsync(tool, args, cancellationToken: Ct)).IsError);
                    }
                    catch (McpProtocolException ex)
                    {
                        Assert.True(ex.ErrorCode == McpErrorCode.InternalError && ex.Message.Contains($"Backend '{name}' is unavailable", StringComparison.Ordinal),
                            $"{tool} during the restart: {ex.ErrorCode} {ex.Message}");
                    }
                }
            }
            finally
            {
                gate.Release();
            }

            await WaitUntil(() => backend.State == BackendState.Ready);
            Assert.True(backend.Restarts > restarts);
            foreach (var (_, tool, args) in mine)
            {
                Assert.NotEqual(true, (await client.CallToolAsync(tool, args, cancellationToken: Ct)).IsError);
            }
        }
    }

    [Fact]
    public async Task A_call_cut_by_a_crash_says_the_backend_restarted_and_logs_a_warning_without_a_stack_trace()
    {
        var logs = new CapturingLoggerProvider();
        await using var proxy = await ProxyHost.StartAsync(TestPaths.SampleStdioBackend("s"), logging: l => l.AddProvider(logs));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);
        var pid = await ChildPidAsync(client, "s/stats");

        var started = new FirstProgress();
        var call = client.CallToolAsync("s/slow", Slow(), started, cancellationToken: Ct).AsTask();
        await started.Task.WaitAsync(Ct); // the backend is running the call
        Process.GetProcessById(pid).Kill();

        var error = await Assert.ThrowsAsync<McpProtocolException>(() => call);
        Assert.Equal(McpErrorCode.InternalError, error.ErrorCode);
        Assert.Contains("Backend 's' restarted during the call", error.Message, StringComparison.Ordinal);
        Assert.Contains("process exited", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("task was canceled", error.Message, StringComparison.OrdinalIgnoreCase);

        // Expected failures: no error-level entry and no stack trace above debug; the failed call is one warning.
        await WaitUntil(() => proxy.Services.GetRequiredService<BackendRegistry>().Backends.Single().State == BackendState.Ready);
        AssertNoStackTraceAboveDebug(logs);
        Assert.Contains(logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("restarted during the call", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_call_cut_by_the_shutdown_timeout_says_the_proxy_is_shutting_down()
    {
        var logs = new CapturingLoggerProvider();
        await using var proxy = await ProxyHost.StartAsync("""
            [proxy]
            name = "cut"
            shutdown_timeout_seconds = 1
            [proxy.listen]
            port = 0

            """ + TestPaths.SampleStdioBackend("s"), logging: l => l.AddProvider(logs));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);
        var inFlight = proxy.Services.GetRequiredService<McpProxy.Resilience.InFlightCalls>();

        var call = client.CallToolAsync("s/sleep", new Dictionary<string, object?> { ["ms"] = 60_000 }, cancellationToken: Ct).AsTask();
        await WaitUntil(() => inFlight.Count == 1);

        // The proxy's shutdown step, as the host runs it on SIGTERM: refuse new calls, drain up to the timeout, cut what
        // is left, stop the backends. Run directly, so the listener is still up to carry the answer whatever the host's
        // own shutdown order (issue 12, point 7).
        await proxy.Services.GetRequiredService<BackendRegistry>().StopAsync(Ct);

        var error = await Assert.ThrowsAsync<McpProtocolException>(() => call);
        Assert.Equal(McpErrorCode.InternalError, error.ErrorCode);
        Assert.Contains("The proxy is shutting down: the call to backend 's' was cut at the shutdown timeout (1 s)", error.Message, StringComparison.Ordinal);
        var line = Assert.Single(logs.Entries, e => e.Category == "McpProxy.Routing.ProxyHandlers" && e.Message.Contains("'s/sleep'", StringComparison.Ordinal));
        Assert.Equal(LogLevel.Warning, line.Level);
        AssertNoStackTraceAboveDebug(logs);
    }

    [Fact]
    public async Task Expected_failures_log_one_warning_line_each_and_no_stack_trace_above_debug()
    {
        var logs = new CapturingLoggerProvider();
        await using var backend = await SampleHttpHost.StartAsync();
        // log_level = "debug", so that the stack traces can be seen going there.
        await using var proxy = await ProxyHost.StartAsync(
            "[observability]\nlog_level = \"debug\"\n\n" + backend.Backend("b", "[backends.timeout]\nseconds = 1"), logging: l => l.AddProvider(logs));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);

        // The backend's own error, and a timeout.
        var failed = await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync("b/fail", Message("boom-detail"), cancellationToken: Ct).AsTask());
        Assert.Contains("boom-detail", failed.Message, StringComparison.Ordinal);
        var timedOut = await Assert.ThrowsAsync<McpProtocolException>(
            () => client.CallToolAsync("b/sleep", new Dictionary<string, object?> { ["ms"] = 30_000 }, cancellationToken: Ct).AsTask());
        Assert.Contains("Backend 'b' timed out after 1 s", timedOut.Message, StringComparison.Ordinal);

        static bool Warning(CapturedLog e) => e.Category == "McpProxy.Routing.ProxyHandlers" && e.Level == LogLevel.Warning;
        await WaitUntil(() => logs.Entries.Count(Warning) == 2);
        var warnings = logs.Entries.Where(Warning).ToList();
        Assert.Contains("tools/call 'b/fail' on backend 'b' failed: the backend answered JSON-RPC error -32603", warnings[0].Message, StringComparison.Ordinal);
        Assert.Contains("tools/call 'b/sleep' on backend 'b' failed: Backend 'b' timed out after 1 s", warnings[1].Message, StringComparison.Ordinal);
        Assert.All(warnings, w => Assert.Null(w.Exception));
        // The backend's words (they may echo arguments) only at debug, with the stack trace.
        Assert.DoesNotContain(logs.Entries, e => e.Level > LogLevel.Debug && (e.Message.Contains("boom-detail", StringComparison.Ordinal) || e.Exception?.Contains("boom-detail", StringComparison.Ordinal) == true));
        Assert.Contains(logs.Entries, e => e.Level == LogLevel.Debug && e.Exception?.Contains("boom-detail", StringComparison.Ordinal) == true);
        AssertNoStackTraceAboveDebug(logs);
    }

    /// <summary>No entry at error level or above, and no exception attached to an entry above debug.</summary>
    internal static void AssertNoStackTraceAboveDebug(CapturingLoggerProvider logs)
    {
        var bad = logs.Entries.Where(e => e.Level >= LogLevel.Error || (e.Level > LogLevel.Debug && e.Exception is not null)).ToList();
        Assert.True(bad.Count == 0, string.Join("\n---\n", bad.Select(e => $"{e.Level} {e.Category}: {e.Message}\n{e.Exception}")));
    }

    /// <summary>The sample's <c>slow</c> tool for about 20 s, with progress after each step.</summary>
    internal static Dictionary<string, object?> Slow(int steps = 200) => new() { ["steps"] = steps, ["delay_ms"] = 100 };

    /// <summary>Completes on the first progress notification: the backend has started the call.</summary>
    internal sealed class FirstProgress : IProgress<ProgressNotificationValue>
    {
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _count;

        public Task Task => _started.Task;

        public int Count => Volatile.Read(ref _count);

        public void Report(ProgressNotificationValue value)
        {
            Interlocked.Increment(ref _count);
            _started.TrySetResult();
        }
    }

    private static Dictionary<string, object?> Numbers() => new() { ["a"] = 1, ["b"] = 2 };

    internal static async Task<int> ChildPidAsync(McpClient client, string statsTool)
    {
        var stats = await client.CallToolAsync(statsTool, cancellationToken: Ct);
        return (int)JsonNode.Parse(Text(stats))!["pid"]!;
    }
}
