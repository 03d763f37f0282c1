using Microsoft.Extensions.Caching.Distributed;

namespace McpProxy.Caching;

/// <summary>
/// The distributed layer (Redis) of the proxy's HybridCache, wrapped so that a Redis outage degrades the cache and never
/// the calls: every operation is bounded by <see cref="OperationTimeout"/>, a failure or a timeout counts as a miss
/// (reads) or is dropped (writes, removals) — never an error for the call — and opens a circuit: Redis is skipped for
/// <see cref="BreakDuration"/>, then one operation tries it again (success closes the circuit, failure re-opens it).
/// The in-memory layer keeps serving meanwhile. Written here rather than with Polly: the whole policy is a timestamp
/// and a flag, and the cache must not depend on the per-backend call pipeline.
/// </summary>
/// <remarks>
/// Only <see cref="IDistributedCache"/> is implemented, not <c>IBufferDistributedCache</c>: with byte arrays an
/// operation abandoned at its timeout owns its buffers, so nothing it does afterwards can touch a buffer HybridCache
/// has reused.
/// </remarks>
internal sealed partial class ResilientDistributedCache(IDistributedCache inner, TimeProvider time, ILogger<ResilientDistributedCache> logger) : IDistributedCache
{
    /// <summary>Longest a cache operation may wait on Redis before the call goes on without it.</summary>
    public static readonly TimeSpan OperationTimeout = TimeSpan.FromSeconds(1);

    /// <summary>How long Redis is skipped after a failure before it is tried again.</summary>
    public static readonly TimeSpan BreakDuration = TimeSpan.FromSeconds(5);

    private readonly Lock _gate = new();
    private DateTimeOffset? _openUntil;
    private bool _trialInFlight;

    /// <summary>Whether Redis is being skipped after a failure (the cache is in memory only).</summary>
    public bool IsOpen
    {
        get
        {
            lock (_gate)
            {
                return _openUntil is not null;
            }
        }
    }

    /// <summary>Why Redis was last skipped, and since when; null when it works.</summary>
    public string? LastError { get; private set; }

    public DateTimeOffset? FailingSince { get; private set; }

    // The synchronous members exist for the interface only (HybridCache uses the asynchronous ones); they apply the
    // same policy by waiting on it.
    public byte[]? Get(string key) => GetAsync(key).GetAwaiter().GetResult();

    public Task<byte[]?> GetAsync(string key, CancellationToken token = default) =>
        RunAsync(ct => inner.GetAsync(key, ct), fallback: null, token);

    public void Set(string key, byte[] value, DistributedCacheEntryOptions options) => SetAsync(key, value, options).GetAwaiter().GetResult();

    public Task SetAsync(string key, byte[] value, DistributedCacheEntryOptions options, CancellationToken token = default) =>
        RunAsync(async ct =>
        {
            await inner.SetAsync(key, value, options, ct).ConfigureAwait(false);
            return true;
        }, fallback: false, token);

    public void Refresh(string key) => RefreshAsync(key).GetAwaiter().GetResult();

    public Task RefreshAsync(string key, CancellationToken token = default) =>
        RunAsync(async ct =>
        {
            await inner.RefreshAsync(key, ct).ConfigureAwait(false);
            return true;
        }, fallback: false, token);

    public void Remove(string key) => RemoveAsync(key).GetAwaiter().GetResult();

    public Task RemoveAsync(string key, CancellationToken token = default) =>
        RunAsync(async ct =>
        {
            await inner.RemoveAsync(key, ct).ConfigureAwait(false);
            return true;
        }, fallback: false, token);

    /// <summary>
    /// Runs one Redis operation under this breaker — the cache's and every other Redis user's (the replicas' shared
    /// sessions): bounded by <see cref="OperationTimeout"/>, skipped at once while Redis is known to be down, so no
    /// request waits on Redis more than once per break.
    /// </summary>
    public async Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> operation, T fallback, CancellationToken cancellationToken)
    {
        if (!TryEnter())
        {
            return fallback;
        }

        try
        {
            var result = await operation(cancellationToken).WaitAsync(OperationTimeout, time, cancellationToken).ConfigureAwait(false);
            Succeeded();
            return result;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Abandoned();
            throw;
        }
        catch (Exception ex)
        {
            Failed(ex is TimeoutException ? $"no answer within {OperationTimeout.TotalMilliseconds:0} ms" : ex.Message);
            return fallback;
        }
    }

    /// <summary>Closed: go. Open: skip until the break has passed, then let exactly one operation try Redis.</summary>
    private bool TryEnter()
    {
        lock (_gate)
        {
            if (_openUntil is not { } until)
            {
                return true;
            }

            if (time.GetUtcNow() < until || _trialInFlight)
            {
                return false;
            }

            _trialInFlight = true;
            return true;
        }
    }

    private void Succeeded()
    {
        bool recovered;
        lock (_gate)
        {
            recovered = _openUntil is not null;
            _openUntil = null;
            _trialInFlight = false;
        }

        if (recovered)
        {
            LastError = null;
            FailingSince = null;
            LogRecovered(logger);
        }
    }

    private void Failed(string error)
    {
        bool opened;
        lock (_gate)
        {
            opened = _openUntil is null;
            _openUntil = time.GetUtcNow() + BreakDuration;
            _trialInFlight = false;
        }

        LastError = error;
        if (opened)
        {
            FailingSince = time.GetUtcNow();
            LogUnavailable(logger, error, BreakDuration.TotalSeconds);
        }
        else
        {
            LogStillUnavailable(logger, error);
        }
    }

    private void Abandoned()
    {
        lock (_gate)
        {
            _trialInFlight = false;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis cache unavailable ({Error}): caching in memory only, Redis is tried again every {Seconds} s")]
    private static partial void LogUnavailable(ILogger logger, string error, double seconds);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Redis cache still unavailable: {Error}")]
    private static partial void LogStillUnavailable(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Redis cache is back: entries are shared through Redis again")]
    private static partial void LogRecovered(ILogger logger);
}
