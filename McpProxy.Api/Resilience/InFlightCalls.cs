namespace McpProxy.Resilience;

/// <summary>
/// Counts proxied calls in flight so shutdown can drain them (<c>[proxy] shutdown_timeout_seconds</c>): once shutdown
/// begins new calls are refused with a clear error, and the backends are stopped only when the calls in flight have
/// finished or the timeout has passed.
/// </summary>
internal sealed class InFlightCalls
{
    private readonly Lock _gate = new();
    private TaskCompletionSource? _drained;
    private int _count;
    private volatile bool _stopping;

    public int Count => Volatile.Read(ref _count);

    public bool IsStopping => _stopping;

    /// <summary>Registers a call; dispose the result when it ends. Throws a JSON-RPC error once shutdown has begun.</summary>
    public Scope Enter()
    {
        if (_stopping)
        {
            throw new ProxyRefusedException("The proxy is shutting down; retry against another instance.");
        }

        Interlocked.Increment(ref _count);
        return new Scope(this);
    }

    /// <summary>Refuses new calls and waits up to <paramref name="timeout"/> for the calls in flight; returns how many were left.</summary>
    public async Task<int> DrainAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        Task drained;
        lock (_gate)
        {
            _stopping = true;
            if (_count == 0)
            {
                return 0;
            }

            _drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            drained = _drained.Task;
        }

        try
        {
            await drained.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
        catch (OperationCanceledException)
        {
        }

        return Count;
    }

    private void Exit()
    {
        if (Interlocked.Decrement(ref _count) == 0 && _stopping)
        {
            lock (_gate)
            {
                _drained?.TrySetResult();
            }
        }
    }

    public readonly struct Scope(InFlightCalls owner) : IDisposable
    {
        public void Dispose() => owner.Exit();
    }
}
