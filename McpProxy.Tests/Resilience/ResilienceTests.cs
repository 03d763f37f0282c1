using System.Diagnostics;
using McpProxy.Sessions;
using McpProxy.Security;
using McpProxy.Mirroring;
using McpProxy.Resilience;
using McpProxy.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Resilience;

/// <summary>
/// Each policy of the per-backend pipeline shown acting, with faults injected by the sample backend's knobs (error
/// rate, latency, changed while it runs) behind the real proxy endpoint and a real MCP client.
/// </summary>
public sealed class ResilienceTests
{
    private static CancellationToken Ct => TestContext.Timeout(60);

    private static async Task<McpProtocolException> CallFails(McpClient client, string tool, Dictionary<string, object?>? args = null) =>
        await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync(tool, args ?? Message("x"), cancellationToken: Ct).AsTask());

    [Fact]
    public async Task Circuit_breaker_opens_at_the_failure_rate_fails_fast_then_half_open_probes_close_it()
    {
        // The breaker's clock is the test's: wait_duration passes when the test says so, not after a sleep.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var backend = await SampleHttpHost.StartAsync("--error-rate", "1");
        await using var proxy = await ProxyHost.StartAsync(backend.Backend("b", """
            [backends.circuit_breaker]
            failure_rate_threshold = 0.5
            minimum_calls = 4
            wait_duration_seconds = 1
            permitted_calls_in_half_open = 2
            """), configure: builder => builder.Services.AddSingleton<TimeProvider>(clock));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);

        for (var i = 0; i < 4; i++)
        {
            Assert.Contains("Injected failure", (await CallFails(client, "b/echo")).Message, StringComparison.Ordinal);
        }

        // Open: refused at once, naming the backend and when it retries; the backend sees nothing.
        var seen = backend.ToolCalls;
        var open = await CallFails(client, "b/echo");
        Assert.Contains("Backend 'b' circuit is open", open.Message, StringComparison.Ordinal);
        Assert.Contains("will be retried at", open.Message, StringComparison.Ordinal);
        Assert.Equal(McpErrorCode.InternalError, open.ErrorCode);
        Assert.Equal(seen, backend.ToolCalls);

        // Half-open after wait_duration: a failing probe re-opens it.
        clock.Advance(TimeSpan.FromMilliseconds(1100));
        Assert.Contains("Injected failure", (await CallFails(client, "b/echo")).Message, StringComparison.Ordinal);
        Assert.Contains("circuit is open", (await CallFails(client, "b/echo")).Message, StringComparison.Ordinal);

        // The backend heals; after the wait, two successful probes close the circuit for good.
        backend.Options.ErrorRate = 0;
        clock.Advance(TimeSpan.FromMilliseconds(1100));
        var breaker = proxy.Services.GetRequiredService<McpProxy.Backends.BackendRegistry>().Backends.Single().Resilience.Breaker!;
        Assert.Equal("ok", Text(await client.CallToolAsync("b/echo", Message("ok"), cancellationToken: Ct)));
        Assert.Equal(CircuitState.HalfOpen, breaker.State);
        Assert.Equal("ok", Text(await client.CallToolAsync("b/echo", Message("ok"), cancellationToken: Ct)));
        Assert.Equal(CircuitState.Closed, breaker.State);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal("ok", Text(await client.CallToolAsync("b/echo", Message("ok"), cancellationToken: Ct)));
        }
    }

    [Fact]
    public async Task Isolated_tool_errors_and_caller_mistakes_are_not_backend_failures()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(backend.Backend("b", """
            [backends.circuit_breaker]
            failure_rate_threshold = 0.5
            minimum_calls = 2
            wait_duration_seconds = 30
            """));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);

        for (var i = 0; i < 5; i++)
        {
            var result = await client.CallToolAsync("b/tool_error", Message("tool says no"), cancellationToken: Ct);
            Assert.True(result.IsError);
            Assert.True((await client.CallToolAsync("b/echo", new Dictionary<string, object?>(), cancellationToken: Ct)).IsError); // missing argument
            Assert.Equal(McpErrorCode.InvalidParams, (await CallFails(client, "b/no_such_tool")).ErrorCode); // the caller's mistake
        }

        Assert.Equal("still closed", Text(await client.CallToolAsync("b/echo", Message("still closed"), cancellationToken: Ct)));
    }

    [Fact]
    public async Task Retries_repeat_only_safe_calls_and_stop_at_the_budget()
    {
        await using var backend = await SampleHttpHost.StartAsync("--error-rate", "1");
        await using var proxy = await ProxyHost.StartAsync(backend.Backend("b", """
            [backends.retry]
            max_retries = 3
            initial_backoff_ms = 1
            max_backoff_ms = 5
            budget_percent = 20
            min_retries_per_sec = 0
            """));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);

        // 'fail' is neither read-only nor idempotent: never retried.
        for (var i = 0; i < 5; i++)
        {
            await CallFails(client, "b/fail");
        }

        Assert.Equal(5, backend.ToolCalls);

        // 'echo' is read-only: retried, but the budget allows retries for 20% of recent requests, not 3 per call.
        const int calls = 30;
        for (var i = 0; i < calls; i++)
        {
            await CallFails(client, "b/echo");
        }

        var retries = backend.ToolCalls - 5 - calls;
        Assert.InRange(retries, 1, (int)Math.Ceiling(0.2 * (calls + 5)));
    }

    [Fact]
    public async Task Retries_with_backoff_turn_a_flaky_backend_into_successes_and_overrides_decide_what_is_safe()
    {
        await using var backend = await SampleHttpHost.StartAsync("--error-rate", "0.5", "--seed", "7");
        await using var proxy = await ProxyHost.StartAsync(backend.Backend("b", """
            idempotent_tools = ["fail"]
            non_idempotent_tools = ["add"]
            [backends.retry]
            max_retries = 8
            initial_backoff_ms = 1
            max_backoff_ms = 4
            budget_percent = 100
            min_retries_per_sec = 100
            """));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);

        for (var i = 0; i < 20; i++)
        {
            Assert.Equal($"m{i}", Text(await client.CallToolAsync("b/echo", Message($"m{i}"), cancellationToken: Ct)));
        }

        Assert.True(backend.ToolCalls > 20, "some calls needed retries");

        // 'add' is annotated idempotent but configured non_idempotent: the first failure is final.
        backend.Options.ErrorRate = 1;
        var before = backend.ToolCalls;
        await CallFails(client, "b/add", new Dictionary<string, object?> { ["a"] = 1, ["b"] = 2 });
        Assert.Equal(before + 1, backend.ToolCalls);

        // 'fail' is not annotated but configured idempotent: retried (max_retries + 1 attempts).
        before = backend.ToolCalls;
        await CallFails(client, "b/fail");
        Assert.Equal(before + 9, backend.ToolCalls);
    }

    [Fact]
    public async Task Hedge_wins_against_a_slow_first_attempt_and_the_loser_is_cancelled()
    {
        await using var backend = await SampleHttpHost.StartAsync("--latency-ms", "10000");
        await using var proxy = await ProxyHost.StartAsync(backend.Backend("b", """
            [backends.hedging]
            delay_ms = 1500
            max_hedges = 1
            """));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);

        var stopwatch = Stopwatch.StartNew();
        var call = client.CallToolAsync("b/echo", Message("hedged"), cancellationToken: Ct).AsTask();
        await WaitUntil(() => backend.ToolCalls >= 1);

        backend.Options.LatencyMs = 0; // the backend is fast again: only the first attempt is stuck
        Assert.Equal("hedged", Text(await call));
        stopwatch.Stop();

        Assert.Equal(2, backend.ToolCalls);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(7), $"hedge answered after {stopwatch.Elapsed}");
        await WaitUntil(() => backend.Cancellations == 1);

        // A tool that is not safe to repeat is never hedged.
        backend.Options.LatencyMs = 600;
        var before = backend.ToolCalls;
        await CallFails(client, "b/fail", Message("boom"));
        Assert.Equal(before + 1, backend.ToolCalls);
    }

    [Fact]
    public async Task Outlier_detection_ejects_a_failing_backend_within_the_max_percent_and_brings_it_back()
    {
        await using var a = await SampleHttpHost.StartAsync("--error-rate", "1");
        await using var b = await SampleHttpHost.StartAsync("--error-rate", "1");
        const string outlier = """
            [backends.outlier_detection]
            consecutive_errors = 3
            interval_seconds = 10
            base_ejection_seconds = 1
            max_ejection_percent = 50
            """;
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow); // the ejection ends when the test advances it
        await using var proxy = await ProxyHost.StartAsync(a.Backend("a", outlier) + b.Backend("b", outlier), configure: builder => builder.Services.AddSingleton<TimeProvider>(clock));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);

        for (var i = 0; i < 3; i++)
        {
            await CallFails(client, "a/fail");
        }

        var ejected = await CallFails(client, "a/echo");
        Assert.Contains("Backend 'a' is ejected after 3 consecutive errors", ejected.Message, StringComparison.Ordinal);
        Assert.Equal(3, a.ToolCalls);

        // 'b' fails just as much, but ejecting it too would exceed 50% of the backends: it keeps being called.
        for (var i = 0; i < 5; i++)
        {
            Assert.Contains("Injected failure", (await CallFails(client, "b/fail")).Message, StringComparison.Ordinal);
        }

        Assert.Equal(5, b.ToolCalls);

        // After base_ejection_seconds 'a' is back in service.
        a.Options.ErrorRate = 0;
        clock.Advance(TimeSpan.FromMilliseconds(1100));
        Assert.Equal("back", Text(await client.CallToolAsync("a/echo", Message("back"), cancellationToken: Ct)));
    }

    [Fact]
    public async Task Rate_limit_refuses_with_a_clear_error()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(LimitedBackends(backend));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("ok", Text(await client.CallToolAsync("r/echo", Message("ok"), cancellationToken: Ct)));
        }

        var limited = await CallFails(client, "r/echo");
        Assert.Contains("Backend 'r' rate limit exceeded (3 requests per 60 s)", limited.Message, StringComparison.Ordinal);
        Assert.Equal(3, backend.ToolCalls);
    }

    /// <summary>Backend 'r' with a rate limit of 3 calls a minute, backend 'c' with one call in flight and one waiting.</summary>
    private static string LimitedBackends(SampleHttpHost backend) =>
        backend.Backend("r", """
            [backends.rate_limit]
            requests = 3
            period_seconds = 60
            """) +
        backend.Backend("c", """
            [backends.concurrency]
            max_concurrent = 1
            max_queued = 1
            """);

    [Fact]
    public async Task Concurrency_limit_refuses_with_a_clear_error_instead_of_queueing_without_bound()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(LimitedBackends(backend));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);

        // One in flight, one waiting, the third refused at once.
        var calls = Enumerable.Range(0, 3)
            .Select(_ => client.CallToolAsync("c/sleep", new Dictionary<string, object?> { ["ms"] = 700 }, cancellationToken: Ct).AsTask())
            .ToArray();
        var outcomes = await Task.WhenAll(calls.Select(async t =>
        {
            try
            {
                await t;
                return "ok";
            }
            catch (McpProtocolException ex)
            {
                return ex.Message;
            }
        }));
        Assert.Equal(2, outcomes.Count(o => o == "ok"));
        Assert.Contains(outcomes, o => o.Contains("Backend 'c' is at its concurrency limit (1 calls in flight, 1 waiting)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Mirror_receives_about_its_percentage_and_its_failures_never_touch_the_primary()
    {
        await using var primary = await SampleHttpHost.StartAsync();
        await using var mirror = await SampleHttpHost.StartAsync("--error-rate", "1");
        await using var proxy = await ProxyHost.StartAsync(primary.Backend("api") + mirror.Backend("api-v2", """
            mirror_of = "api"
            mirror_percent = 50
            """));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);

        // The mirror is not routed to.
        Assert.DoesNotContain(await client.ListToolsAsync(cancellationToken: Ct), t => t.Name.StartsWith("api-v2/", StringComparison.Ordinal));

        const int calls = 200;
        for (var i = 0; i < calls; i++)
        {
            Assert.Equal($"m{i}", Text(await client.CallToolAsync("api/echo", Message($"m{i}"), cancellationToken: Ct)));
        }

        var traffic = proxy.Services.GetRequiredService<TrafficMirror>();
        await WaitUntil(() => mirror.ToolCalls == traffic.Sent && traffic.Failed == traffic.Sent);
        Assert.Equal(calls, primary.ToolCalls);
        Assert.InRange(mirror.ToolCalls, 60, 140); // 50% of 200: mean 100, sd ~7
    }

    [Fact]
    public async Task A_lost_http_session_is_re_initialized_and_calls_in_the_gap_fail_fast_and_clearly()
    {
        var backend = await SampleHttpHost.StartAsync();
        var port = backend.BaseAddress.Port;
        // Sessions are a legacy-era thing: a 2026-07-28 backend has none to lose.
        await using var proxy = await ProxyHost.StartAsync(backend.Backend("b", "protocol = \"2025-11-25\""));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);
        Assert.Equal("one", Text(await client.CallToolAsync("b/echo", Message("one"), cancellationToken: Ct)));

        // The backend restarts on the same port and forgets every session.
        await backend.DisposeAsync();
        await using var restarted = await SampleHttpHost.StartAsync("--urls", $"http://127.0.0.1:{port}");

        // Until the new session is up, calls fail at once with an error that says why.
        var lost = await CallFails(client, "b/echo");
        Assert.Contains("Backend 'b'", lost.Message, StringComparison.Ordinal);
        Assert.Equal(McpErrorCode.InternalError, lost.ErrorCode);

        await WaitUntil(async () =>
        {
            try
            {
                return Text(await client.CallToolAsync("b/echo", Message("two"), cancellationToken: Ct)) == "two";
            }
            catch (McpProtocolException ex)
            {
                Assert.Contains("Backend 'b'", ex.Message, StringComparison.Ordinal);
                return false;
            }
        });
    }

    [Fact]
    public async Task Full_stack_on_one_backend_retries_through_flakiness_then_breaks_and_recovers()
    {
        // The breaker's wait passes when the test moves the clock; retries, hedges and timeouts keep real timers.
        var clock = new ShiftedClock();
        await using var backend = await SampleHttpHost.StartAsync("--error-rate", "0.3", "--seed", "3");
        await using var proxy = await ProxyHost.StartAsync(backend.Backend("b", """
            [backends.timeout]
            seconds = 2
            [backends.concurrency]
            max_concurrent = 4
            [backends.rate_limit]
            requests = 1000
            period_seconds = 1
            [backends.retry]
            max_retries = 4
            initial_backoff_ms = 1
            max_backoff_ms = 10
            budget_percent = 100
            min_retries_per_sec = 50
            [backends.hedging]
            delay_ms = 500
            max_hedges = 1
            [backends.circuit_breaker]
            failure_rate_threshold = 0.5
            minimum_calls = 10
            wait_duration_seconds = 1
            permitted_calls_in_half_open = 1
            [backends.outlier_detection]
            consecutive_errors = 1000
            """), configure: builder => builder.Services.AddSingleton<TimeProvider>(clock));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);

        // Flaky (30% errors): retries hide it, concurrently, and the breaker (which sees every attempt) stays closed.
        var results = await Task.WhenAll(Enumerable.Range(0, 24).Select(i => client.CallToolAsync("b/echo", Message($"m{i}"), cancellationToken: Ct).AsTask()));
        Assert.All(results, r => Assert.NotEqual(true, r.IsError));
        Assert.True(backend.ToolCalls > 24);

        // Down: the failure rate trips the breaker and calls fail fast; healed, it closes again.
        backend.Options.ErrorRate = 1;
        string? last = null;
        for (var i = 0; i < 10 && last?.Contains("circuit is open", StringComparison.Ordinal) != true; i++)
        {
            last = (await CallFails(client, "b/echo")).Message;
        }

        Assert.Contains("Backend 'b' circuit is open", last, StringComparison.Ordinal);
        backend.Options.ErrorRate = 0;
        clock.Advance(TimeSpan.FromMilliseconds(1100));
        Assert.Equal("up", Text(await client.CallToolAsync("b/echo", Message("up"), cancellationToken: Ct)));
    }

}
