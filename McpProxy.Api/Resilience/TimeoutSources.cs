using System.Collections.Concurrent;

namespace McpProxy.Resilience;

/// <summary>
/// The attempt timeouts of the timeout-only path: cancellation sources on the injected clock, reset and reused
/// (<see cref="CancellationTokenSource.TryReset"/>) rather than one source and timer per call — as Polly pools its own.
/// A source that fired is not reused, nor one on another clock than the system's (it cannot be reset: tests' fake clocks).
/// </summary>
internal sealed class TimeoutSources(TimeProvider time)
{
    private const int Keep = 256;

    private readonly ConcurrentQueue<CancellationTokenSource> _free = new();

    /// <summary>A source that cancels itself after <paramref name="timeout"/> (on the clock the pool was made with).</summary>
    public CancellationTokenSource Rent(TimeSpan timeout)
    {
        if (_free.TryDequeue(out var source))
        {
            source.CancelAfter(timeout);
            return source;
        }

        return new CancellationTokenSource(timeout, time);
    }

    /// <summary>Takes a source back once nothing is registered on it any more: kept when it can be reset, else disposed.</summary>
    public void Return(CancellationTokenSource source)
    {
        if (_free.Count < Keep && source.TryReset())
        {
            _free.Enqueue(source);
        }
        else
        {
            source.Dispose();
        }
    }
}
