using McpProxy.Configuration;

namespace McpProxy.Resilience;

internal enum CircuitState { Closed, Open, HalfOpen }

/// <summary>
/// A circuit breaker with the semantics of the config's keys (Resilience4j's): while closed, the failure rate over the
/// last <c>window_seconds</c> is evaluated once <c>minimum_calls</c> calls were seen, and reaching
/// <c>failure_rate_threshold</c> opens the circuit; open, every call fails fast for <c>wait_duration_seconds</c>; then
/// half-open lets <c>permitted_calls_in_half_open</c> probes through: one failed probe re-opens it, all of them
/// succeeding closes it. Written here rather than taken from Polly because Polly's breaker admits exactly one
/// half-open probe, which cannot express <c>permitted_calls_in_half_open</c>.
/// </summary>
internal sealed class CircuitBreaker(string backend, CircuitBreakerConfig config, TimeProvider time, Action<string, CircuitState>? onTransition = null)
{
    private readonly Lock _gate = new();
    private readonly Queue<(long Ticks, bool Failed)> _window = new();
    private readonly TimeSpan _windowLength = TimeSpan.FromSeconds(config.WindowSeconds);
    private readonly TimeSpan _wait = TimeSpan.FromSeconds(config.WaitDurationSeconds);
    private int _failuresInWindow;
    private DateTimeOffset _openUntil;
    private int _probesAdmitted;
    private int _probesSucceeded;

    public CircuitState State { get; private set; } = CircuitState.Closed;

    /// <summary>When an open circuit lets probes through again.</summary>
    public DateTimeOffset OpenUntil => _openUntil;

    /// <summary>Admits a call or throws <see cref="ProxyRejectedException"/> naming the backend and when it will retry.</summary>
    public void Enter()
    {
        lock (_gate)
        {
            var now = time.GetUtcNow();
            if (State == CircuitState.Open && now >= _openUntil)
            {
                Transition(CircuitState.HalfOpen);
                _probesAdmitted = 0;
                _probesSucceeded = 0;
            }

            switch (State)
            {
                case CircuitState.Open:
                    throw new ProxyRejectedException(
                        $"Backend '{backend}' circuit is open after repeated failures; it will be retried at {_openUntil:yyyy-MM-ddTHH:mm:ssZ} (in {Math.Ceiling((_openUntil - now).TotalSeconds):0} s).");
                case CircuitState.HalfOpen when _probesAdmitted >= config.PermittedCallsInHalfOpen:
                    throw new ProxyRejectedException(
                        $"Backend '{backend}' circuit is half-open and its {config.PermittedCallsInHalfOpen} probe calls are in flight; retry shortly.");
                case CircuitState.HalfOpen:
                    _probesAdmitted++;
                    break;
            }
        }
    }

    /// <summary>An admitted call ended without an outcome that says anything (cancelled): frees its half-open probe slot.</summary>
    public void Release()
    {
        lock (_gate)
        {
            if (State == CircuitState.HalfOpen && _probesAdmitted > _probesSucceeded)
            {
                _probesAdmitted--;
            }
        }
    }

    /// <summary>Records the outcome of an admitted call.</summary>
    public void Record(bool failed)
    {
        lock (_gate)
        {
            var now = time.GetUtcNow();
            switch (State)
            {
                case CircuitState.HalfOpen when failed:
                    Open(now);
                    break;
                case CircuitState.HalfOpen:
                    if (++_probesSucceeded >= config.PermittedCallsInHalfOpen)
                    {
                        _window.Clear();
                        _failuresInWindow = 0;
                        Transition(CircuitState.Closed);
                    }

                    break;
                case CircuitState.Closed:
                    _window.Enqueue((now.UtcTicks, failed));
                    _failuresInWindow += failed ? 1 : 0;
                    Trim(now);
                    if (_window.Count >= config.MinimumCalls && (double)_failuresInWindow / _window.Count >= config.FailureRateThreshold)
                    {
                        Open(now);
                    }

                    break;
            }
        }
    }

    private void Trim(DateTimeOffset now)
    {
        var oldest = (now - _windowLength).UtcTicks;
        while (_window.TryPeek(out var head) && head.Ticks < oldest)
        {
            _failuresInWindow -= _window.Dequeue().Failed ? 1 : 0;
        }
    }

    private void Open(DateTimeOffset now)
    {
        _openUntil = now + _wait;
        _window.Clear();
        _failuresInWindow = 0;
        Transition(CircuitState.Open);
    }

    private void Transition(CircuitState state)
    {
        if (State != state)
        {
            State = state;
            onTransition?.Invoke(backend, state);
        }
    }
}
