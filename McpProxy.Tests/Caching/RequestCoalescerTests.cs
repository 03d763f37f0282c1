using McpProxy.Caching;

namespace McpProxy.Tests.Caching;

/// <summary>The coalescer alone: who joins a call in flight, and who may cancel it (only the last waiter).</summary>
public sealed class RequestCoalescerTests
{
    private static CancellationToken Ct => TestContext.Timeout(10);

    /// <summary>A backend call the test finishes by hand, recording how often it ran and the token it ran on.</summary>
    private sealed class HeldCall
    {
        private readonly TaskCompletionSource<string> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _runs;

        public int Runs => Volatile.Read(ref _runs);
        public CancellationToken Token { get; private set; }
        public Task Started => _started.Task;

        public Task<string> RunAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _runs);
            Token = cancellationToken;
            cancellationToken.Register(() => _result.TrySetCanceled(cancellationToken));
            _started.TrySetResult();
            return _result.Task;
        }

        public void Complete(string value) => _result.TrySetResult(value);
    }

    [Fact]
    public async Task Identical_concurrent_calls_share_one_call()
    {
        var coalescer = new RequestCoalescer();
        var held = new HeldCall();

        var first = coalescer.RunAsync("k", held.RunAsync, Ct);
        var second = coalescer.RunAsync("k", held.RunAsync, Ct);
        await held.Started.WaitAsync(Ct);
        held.Complete("shared");

        Assert.Equal("shared", await first);
        Assert.Equal("shared", await second);
        Assert.Equal(1, held.Runs);
        Assert.Equal(1, coalescer.Coalesced);
    }

    [Fact]
    public async Task Calls_with_different_keys_are_not_shared()
    {
        var coalescer = new RequestCoalescer();
        var a = new HeldCall();
        var b = new HeldCall();

        var first = coalescer.RunAsync("a", a.RunAsync, Ct);
        var second = coalescer.RunAsync("b", b.RunAsync, Ct);
        a.Complete("a");
        b.Complete("b");

        Assert.Equal("a", await first);
        Assert.Equal("b", await second);
        Assert.Equal(1, a.Runs);
        Assert.Equal(1, b.Runs);
        Assert.Equal(0, coalescer.Coalesced);
    }

    [Fact]
    public async Task A_call_after_the_shared_one_finished_runs_again()
    {
        var coalescer = new RequestCoalescer();
        var held = new HeldCall();
        held.Complete("once");
        Assert.Equal("once", await coalescer.RunAsync("k", held.RunAsync, Ct));

        Assert.Equal("once", await coalescer.RunAsync("k", held.RunAsync, Ct));

        Assert.Equal(2, held.Runs);
        Assert.Equal(0, coalescer.Coalesced);
    }

    [Fact]
    public async Task One_waiter_cancelling_leaves_the_shared_call_running_for_the_others()
    {
        var coalescer = new RequestCoalescer();
        var held = new HeldCall();
        using var firstCancel = new CancellationTokenSource();

        var first = coalescer.RunAsync("k", held.RunAsync, firstCancel.Token);
        var second = coalescer.RunAsync("k", held.RunAsync, Ct);
        await held.Started.WaitAsync(Ct);
        await firstCancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
        Assert.False(held.Token.IsCancellationRequested);
        held.Complete("served");
        Assert.Equal("served", await second);
    }

    [Fact]
    public async Task The_shared_call_is_cancelled_when_the_last_waiter_cancels()
    {
        var coalescer = new RequestCoalescer();
        var held = new HeldCall();
        using var firstCancel = new CancellationTokenSource();
        using var secondCancel = new CancellationTokenSource();

        var first = coalescer.RunAsync("k", held.RunAsync, firstCancel.Token);
        var second = coalescer.RunAsync("k", held.RunAsync, secondCancel.Token);
        await held.Started.WaitAsync(Ct);
        await firstCancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first);
        Assert.False(held.Token.IsCancellationRequested);

        await secondCancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => second);

        Assert.True(held.Token.IsCancellationRequested);
    }
}
