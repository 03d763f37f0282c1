using McpProxy.Configuration;
using McpProxy.Resilience;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpProxy.Tests.Resilience;

/// <summary>
/// A backend with no policy but its timeout skips Polly (issue 16 item 3): its attempt still times out on the injected
/// clock, and its failures read exactly as they do through Polly's pipeline (compared with a backend whose only other
/// policy, a generous concurrency limit, never acts).
/// </summary>
public sealed class TimeoutOnlyPipelineTests : IDisposable
{
    private readonly ServiceProvider _provider = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly FakeTimeProvider _time = new();

    public static TheoryData<bool> Pipelines => new() { true, false };

    public void Dispose() => _provider.Dispose();

    private BackendResilience Build(bool timeoutOnly)
    {
        var services = new ResilienceServices(
            new OutlierEjections(_time),
            new ResilienceMetrics(_provider.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()),
            _time);
        var config = new BackendConfig
        {
            Name = "b",
            Timeout = new TimeoutConfig { Seconds = 5 },
            Concurrency = timeoutOnly ? null : new ConcurrencyConfig { MaxConcurrent = 1000, MaxQueued = 0 },
        };
        return new BackendResilience(config, TimeSpan.FromSeconds(5), services);
    }

    private static async Task<Exception> FailureOf(BackendResilience resilience, Func<CancellationToken, ValueTask<string>> attempt, CancellationToken cancellationToken = default)
    {
        var failure = await Record.ExceptionAsync(() => resilience.ExecuteAsync(attempt, repeatable: true, "tool", "b/x", cancellationToken).AsTask());
        return Assert.IsAssignableFrom<Exception>(failure);
    }

    [Fact]
    public async Task A_timeout_only_attempt_runs_without_Polly()
    {
        using var resilience = Build(timeoutOnly: true);
        string? stack = null;

        await resilience.ExecuteAsync(_ =>
        {
            stack = Environment.StackTrace;
            return ValueTask.FromResult("ok");
        }, repeatable: true, "tool", "b/x", CancellationToken.None);

        Assert.DoesNotContain("Polly.", stack, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Pipelines))]
    public async Task An_attempt_past_its_timeout_on_the_injected_clock_times_out(bool timeoutOnly)
    {
        using var resilience = Build(timeoutOnly);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var call = resilience.ExecuteAsync<string>(async ct =>
        {
            started.SetResult();
            await Task.Delay(Timeout.InfiniteTimeSpan, ct);
            return "never";
        }, repeatable: true, "tool", "b/slow", CancellationToken.None).AsTask();
        await started.Task;

        _time.Advance(TimeSpan.FromSeconds(4.9));
        Assert.False(call.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(0.1));

        var failure = await Assert.ThrowsAsync<McpProtocolException>(() => call);
        Assert.Equal("Backend 'b' timed out after 5 s on tool 'b/slow'.", failure.Message);
        Assert.Equal(McpErrorCode.InternalError, failure.ErrorCode);
    }

    [Theory]
    [MemberData(nameof(Pipelines))]
    public async Task The_callers_cancellation_is_rethrown_not_translated(bool timeoutOnly)
    {
        using var resilience = Build(timeoutOnly);
        using var caller = new CancellationTokenSource();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var call = resilience.ExecuteAsync<string>(async ct =>
        {
            started.SetResult();
            await Task.Delay(Timeout.InfiniteTimeSpan, ct);
            return "never";
        }, repeatable: true, "tool", "b/slow", caller.Token).AsTask();
        await started.Task;

        await caller.CancelAsync();

        var failure = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
        Assert.IsNotType<McpProtocolException>(failure);
    }

    [Theory]
    [MemberData(nameof(Pipelines))]
    public async Task Failures_are_translated_as_through_the_pipeline(bool timeoutOnly)
    {
        using var resilience = Build(timeoutOnly);

        // The backend's own JSON-RPC error keeps its code, wrapped with the backend's name.
        var backendError = new McpProtocolException("no such thing", McpErrorCode.InvalidParams);
        var wrapped = Assert.IsType<McpProtocolException>(await FailureOf(resilience, _ => throw backendError));
        Assert.Equal("Backend 'b': no such thing", wrapped.Message);
        Assert.Equal(McpErrorCode.InvalidParams, wrapped.ErrorCode);
        Assert.Same(backendError, wrapped.InnerException);

        // -32021 keeps its data (the capabilities the backend needs).
        var needs = new ClientCapabilities { Elicitation = new ElicitationCapability() };
        var missing = Assert.IsType<MissingRequiredClientCapabilityException>(
            await FailureOf(resilience, _ => throw new MissingRequiredClientCapabilityException(needs, "needs elicitation")));
        Assert.Equal("Backend 'b': needs elicitation", missing.Message);
        Assert.NotNull(missing.RequiredCapabilities.Elicitation);

        // A call cut on purpose passes through as it is.
        var cut = new BackendCallCutException("Backend 'b' was cut.", new IOException("gone"), isCut: true);
        Assert.Same(cut, await FailureOf(resilience, _ => throw cut));

        // Anything else: -32603 naming the backend and the item, with a generic reason; the exception stays inner.
        var transport = new IOException("connection reset by 10.0.0.7:8080");
        var failed = Assert.IsType<McpProtocolException>(await FailureOf(resilience, _ => throw transport));
        Assert.StartsWith("Backend 'b' failed on tool 'b/x': ", failed.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("10.0.0.7", failed.Message, StringComparison.Ordinal);
        Assert.Equal(McpErrorCode.InternalError, failed.ErrorCode);
        Assert.Same(transport, failed.InnerException);

        // A synchronous throw reads the same as a faulted attempt.
        Assert.Equal(wrapped.Message, (await FailureOf(resilience, _ => ValueTask.FromException<string>(backendError))).Message);
    }

    [Theory]
    [MemberData(nameof(Pipelines))]
    public async Task The_state_overload_passes_its_state_to_the_attempt(bool timeoutOnly)
    {
        using var resilience = Build(timeoutOnly);

        var result = await resilience.ExecuteAsync(static (name, _) => ValueTask.FromResult("hello " + name), "b", repeatable: true, "tool", "b/x", CancellationToken.None);

        Assert.Equal("hello b", result);
    }
}
