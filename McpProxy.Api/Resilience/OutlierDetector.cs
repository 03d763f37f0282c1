using System.Collections.Concurrent;
using McpProxy.Configuration;

namespace McpProxy.Resilience;

/// <summary>
/// The proxy-wide view of ejections, so that no more than <c>max_ejection_percent</c> of the backends are ejected at
/// once (as Envoy does: a backend may be ejected while the ejected share is below the limit).
/// </summary>
internal sealed class OutlierEjections(TimeProvider time)
{
    private readonly ConcurrentDictionary<string, DateTimeOffset> _ejectedUntil = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <summary>Number of backends the percentage is taken of (the routed backends).</summary>
    public int TotalBackends { get; set; } = 1;

    public int EjectedCount => _ejectedUntil.Values.Count(until => until > time.GetUtcNow());

    public bool TryEject(string backend, DateTimeOffset until, double maxEjectionPercent)
    {
        lock (_gate)
        {
            var ejectedPercent = 100.0 * EjectedCount / Math.Max(1, TotalBackends);
            if (ejectedPercent >= maxEjectionPercent)
            {
                return false;
            }

            _ejectedUntil[backend] = until;
            return true;
        }
    }
}

/// <summary>
/// Passive outlier detection for one backend (custom: Polly has no ejection). <c>consecutive_errors</c> failures in a
/// row eject the backend for <c>base_ejection_seconds</c> × the number of times it was ejected recently; calls fail fast
/// while it is ejected, and it comes back by itself when the time is up. Each <c>interval_seconds</c> without a new
/// ejection lowers that multiplier by one, as Envoy does.
/// </summary>
internal sealed class OutlierDetector(string backend, OutlierDetectionConfig config, OutlierEjections ejections, TimeProvider time, Action<string, TimeSpan>? onEjected = null)
{
    private readonly Lock _gate = new();
    private int _consecutiveErrors;
    private int _multiplier;
    private DateTimeOffset _ejectedUntil;

    public bool IsEjected => time.GetUtcNow() < _ejectedUntil;

    public DateTimeOffset EjectedUntil => _ejectedUntil;

    public int Ejections { get; private set; }

    public void Enter()
    {
        var until = _ejectedUntil;
        var now = time.GetUtcNow();
        if (now < until)
        {
            throw new ProxyRejectedException(
                $"Backend '{backend}' is ejected after {config.ConsecutiveErrors} consecutive errors until {until:yyyy-MM-ddTHH:mm:ssZ} (in {Math.Ceiling((until - now).TotalSeconds):0} s).");
        }
    }

    public void Record(bool failed)
    {
        lock (_gate)
        {
            var now = time.GetUtcNow();
            if (!failed)
            {
                _consecutiveErrors = 0;
                return;
            }

            if (now < _ejectedUntil || ++_consecutiveErrors < config.ConsecutiveErrors)
            {
                return;
            }

            // Decay: every interval the backend spent back in service since its last ejection forgives one.
            if (_multiplier > 0 && config.IntervalSeconds > 0)
            {
                var intervals = (int)((now - _ejectedUntil).TotalSeconds / config.IntervalSeconds);
                _multiplier = Math.Max(0, _multiplier - intervals);
            }

            var duration = TimeSpan.FromSeconds(config.BaseEjectionSeconds * (_multiplier + 1));
            if (ejections.TryEject(backend, now + duration, config.MaxEjectionPercent))
            {
                _multiplier++;
                _ejectedUntil = now + duration;
                _consecutiveErrors = 0;
                Ejections++;
                onEjected?.Invoke(backend, duration);
            }
        }
    }
}
