namespace McpProxy.Caching;

/// <summary>
/// <c>[performance] coalesce_requests</c>: identical concurrent calls (same backend, name or URI, canonical arguments
/// and caller identity — the cache key) share one backend call. The shared call runs on its own cancellation, which
/// is cancelled only when every caller waiting for it has gone: a cancelled first caller never strands the others.
/// HybridCache coalesces only cached calls; this covers uncached ones too, hence our own small class.
/// </summary>
internal sealed class RequestCoalescer
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Flight> _flights = new(StringComparer.Ordinal);
    private long _coalesced;

    /// <summary>Calls that joined another caller's identical call in flight instead of making their own.</summary>
    public long Coalesced => Interlocked.Read(ref _coalesced);

    public async Task<T> RunAsync<T>(string key, Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken)
        where T : class
    {
        Flight flight;
        lock (_gate)
        {
            if (_flights.TryGetValue(key, out var existing))
            {
                flight = existing;
                flight.Waiters++;
                Interlocked.Increment(ref _coalesced);
            }
            else
            {
                flight = new Flight();
                _flights[key] = flight;
                flight.Task = RunSharedAsync(key, flight, call); // yields at once: nothing runs under the lock
            }
        }

        try
        {
            return (T)await flight.Task!.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lock (_gate)
            {
                // The last waiter to leave an unfinished call cancels it; the others keep it alive.
                if (--flight.Waiters == 0 && !flight.Task!.IsCompleted)
                {
                    flight.Cancellation.Cancel();
                }
            }
        }
    }

    private async Task<object> RunSharedAsync<T>(string key, Flight flight, Func<CancellationToken, Task<T>> call)
        where T : class
    {
        try
        {
            await Task.Yield();
            return await call(flight.Cancellation.Token).ConfigureAwait(false);
        }
        finally
        {
            lock (_gate)
            {
                _flights.Remove(key);
            }
        }
    }

    private sealed class Flight
    {
        public int Waiters = 1;
        public Task<object>? Task;
        public CancellationTokenSource Cancellation { get; } = new();
    }
}
