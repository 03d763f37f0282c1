using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace McpProxy.Resilience;

/// <summary>
/// Counts proxied calls in flight so shutdown can drain them (<c>[proxy] shutdown_timeout_seconds</c>): once shutdown
/// begins new calls are refused with a clear error, and the backends are stopped only when the calls in flight have
/// finished or the timeout has passed. Also counted per backend, for the <c>mcp_proxy.backend.calls_in_flight</c> gauge.
/// </summary>
internal sealed class InFlightCalls
{
    private readonly Lock _gate = new();
    private readonly ConcurrentDictionary<string, StrongBox<int>> _byBackend = new(StringComparer.Ordinal);
    private TaskCompletionSource? _drained;
    private int _count;
    private volatile bool _stopping;

    public int Count => Volatile.Read(ref _count);

    public bool IsStopping => _stopping;

    /// <summary>Calls in flight per backend (backends that had calls, each with its current count, possibly 0).</summary>
    public IEnumerable<KeyValuePair<string, int>> ByBackend =>
        _byBackend.Select(b => new KeyValuePair<string, int>(b.Key, Volatile.Read(ref b.Value.Value)));

    /// <summary>Registers a call to <paramref name="backend"/>; dispose the result when it ends. Throws a JSON-RPC error once shutdown has begun.</summary>
    public Scope Enter(string backend)
    {
        if (_stopping)
        {
            throw new ProxyRefusedException("The proxy is shutting down; retry against another instance.");
        }

        var counter = _byBackend.GetOrAdd(backend, static _ => new StrongBox<int>());
        Interlocked.Increment(ref counter.Value);
        Interlocked.Increment(ref _count);
        return new Scope(this, counter);
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

    private void Exit(StrongBox<int> backend)
    {
        Interlocked.Decrement(ref backend.Value);
        if (Interlocked.Decrement(ref _count) == 0 && _stopping)
        {
            lock (_gate)
            {
                _drained?.TrySetResult();
            }
        }
    }

    public readonly struct Scope(InFlightCalls owner, StrongBox<int> backend) : IDisposable
    {
        public void Dispose() => owner.Exit(backend);
    }
}
