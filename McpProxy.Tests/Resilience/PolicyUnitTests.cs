using McpProxy.Configuration;
using McpProxy.Resilience;
using Microsoft.Extensions.DependencyInjection;

namespace McpProxy.Tests.Resilience;

/// <summary>The stateful policies we wrote ourselves, on a manual clock: growth, decay, windows, budgets.</summary>
public sealed class PolicyUnitTests
{
    private sealed class ManualClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
        public override DateTimeOffset GetUtcNow() => Now;
        public void Advance(double seconds) => Now = Now.AddSeconds(seconds);
    }

    /// <summary>One backend whose detector ejects after two consecutive errors for 10 s × the streak, decaying every 30 s.</summary>
    private sealed class Ejector
    {
        public ManualClock Clock { get; } = new();
        public OutlierDetector Detector { get; }

        public Ejector()
        {
            var ejections = new OutlierEjections(Clock) { TotalBackends = 1 };
            Detector = new OutlierDetector("b", new OutlierDetectionConfig { ConsecutiveErrors = 2, BaseEjectionSeconds = 10, IntervalSeconds = 30, MaxEjectionPercent = 100 }, ejections, Clock);
        }

        public void FailTwice()
        {
            Detector.Record(failed: true);
            Detector.Record(failed: true);
        }

        /// <summary>Two ejections in a row (10 s, then 20 s).</summary>
        public void EjectTwice()
        {
            FailTwice();
            Clock.Advance(10);
            FailTwice();
        }

        /// <summary>Two ejections in a row, then two good intervals and a third ejection (10 s again).</summary>
        public void EjectTwiceThenDecay()
        {
            EjectTwice();
            Clock.Advance(20 + 30 * 2);
            FailTwice();
        }
    }

    [Fact]
    public void Ejection_time_grows_with_repeated_ejections()
    {
        var e = new Ejector();
        var clock = e.Clock;
        var detector = e.Detector;

        e.FailTwice();
        Assert.True(detector.IsEjected);
        Assert.Equal(clock.Now.AddSeconds(10), detector.EjectedUntil);

        clock.Advance(10);
        Assert.False(detector.IsEjected);
        e.FailTwice();
        Assert.Equal(clock.Now.AddSeconds(20), detector.EjectedUntil); // second ejection in a row: 2 × base
    }

    [Fact]
    public void Ejection_time_decays_after_good_intervals()
    {
        var e = new Ejector();
        e.EjectTwice();

        e.Clock.Advance(20 + 30 * 2); // two good intervals after it: the multiplier drops back
        e.FailTwice();
        Assert.Equal(e.Clock.Now.AddSeconds(10), e.Detector.EjectedUntil);
        Assert.Equal(3, e.Detector.Ejections);
    }

    [Fact]
    public void A_success_in_between_resets_the_error_streak()
    {
        var e = new Ejector();
        e.EjectTwiceThenDecay();
        var detector = e.Detector;

        // A success in between resets the streak.
        e.Clock.Advance(10);
        detector.Record(failed: true);
        detector.Record(failed: false);
        detector.Record(failed: true);
        Assert.False(detector.IsEjected);
    }

    [Fact]
    public void Max_ejection_percent_keeps_enough_backends_in_service()
    {
        var clock = new ManualClock();
        var ejections = new OutlierEjections(clock) { TotalBackends = 4 };
        var config = new OutlierDetectionConfig { ConsecutiveErrors = 1, BaseEjectionSeconds = 10, MaxEjectionPercent = 50 };
        var detectors = Enumerable.Range(0, 4).Select(i => new OutlierDetector($"b{i}", config, ejections, clock)).ToList();

        foreach (var d in detectors)
        {
            d.Record(failed: true);
        }

        Assert.Equal(2, detectors.Count(d => d.IsEjected)); // 0% and 25% ejected allowed one more each; at 50% no more
        clock.Advance(10);
        Assert.Equal(0, ejections.EjectedCount);
    }

    [Fact]
    public void Breaker_counts_only_the_window_and_minimum_calls()
    {
        var clock = new ManualClock();
        var breaker = new CircuitBreaker("b", new CircuitBreakerConfig { FailureRateThreshold = 0.5, MinimumCalls = 4, WaitDurationSeconds = 5, PermittedCallsInHalfOpen = 2, WindowSeconds = 10 }, clock);

        breaker.Record(failed: true);
        breaker.Record(failed: true);
        breaker.Record(failed: true);
        Assert.Equal(CircuitState.Closed, breaker.State); // 3 < minimum_calls

        clock.Advance(11); // those failures leave the window
        breaker.Record(failed: false);
        breaker.Record(failed: false);
        breaker.Record(failed: false);
        breaker.Record(failed: true);
        Assert.Equal(CircuitState.Closed, breaker.State); // 25%

        breaker.Record(failed: true);
        breaker.Record(failed: true);
        Assert.Equal(CircuitState.Open, breaker.State); // 3 of 6 = 50%
        Assert.Throws<ProxyRejectedException>(breaker.Enter);

        clock.Advance(5);
        breaker.Enter();
        breaker.Enter();
        Assert.Equal(CircuitState.HalfOpen, breaker.State);
        Assert.Throws<ProxyRejectedException>(breaker.Enter); // only two probes
        breaker.Release(); // a cancelled probe frees its slot
        breaker.Enter();
        breaker.Record(failed: false);
        breaker.Record(failed: false);
        Assert.Equal(CircuitState.Closed, breaker.State);
    }

    [Fact]
    public void Retry_budget_is_a_share_of_recent_requests_with_a_per_second_floor()
    {
        var clock = new ManualClock();
        var budget = new RetryBudget(budgetPercent: 10, minRetriesPerSecond: 1, clock);

        // Floor: 1 per second over the 10 s window = 10 retries with no traffic at all.
        Assert.Equal(10, Enumerable.Range(0, 50).Count(_ => budget.TryAcquireRetry()));

        clock.Advance(11); // a fresh window
        for (var i = 0; i < 200; i++)
        {
            budget.RecordRequest();
        }

        Assert.Equal(30, Enumerable.Range(0, 100).Count(_ => budget.TryAcquireRetry())); // 10 floor + 10% of 200
    }
}

/// <summary>A backend's pipeline owns what it creates: disposing it releases the rate limiter (and its replenishment timer).</summary>
public sealed class BackendResilienceDisposalTests
{
    [Fact]
    public async Task A_disposed_pipeline_has_released_its_rate_limiter()
    {
        using var provider = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var services = new ResilienceServices(
            new OutlierEjections(TimeProvider.System),
            new ResilienceMetrics(provider.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()),
            TimeProvider.System);
        var config = new BackendConfig { Name = "r", RateLimit = new RateLimitConfig { Requests = 100, PeriodSeconds = 1 } };
        var resilience = new BackendResilience(config, TimeSpan.FromSeconds(5), services);
        Assert.Equal("ok", await resilience.ExecuteAsync(_ => ValueTask.FromResult("ok"), repeatable: true, "tool", "r/x", CancellationToken.None));

        resilience.Dispose();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => resilience.ExecuteAsync(_ => ValueTask.FromResult("ok"), repeatable: true, "tool", "r/x", CancellationToken.None).AsTask());
    }
}
