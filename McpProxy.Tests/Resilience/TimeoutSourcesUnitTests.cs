using McpProxy.Resilience;
using Microsoft.Extensions.Time.Testing;

namespace McpProxy.Tests.Resilience;

/// <summary>The timeout-only path's reused cancellation sources: reused when they can be reset, each rental timing out on the injected clock.</summary>
public sealed class TimeoutSourcesUnitTests
{
    [Fact]
    public void On_the_system_clock_a_returned_source_is_reused_and_a_fired_one_is_not()
    {
        var pool = new TimeoutSources(TimeProvider.System);
        var first = pool.Rent(TimeSpan.FromMinutes(5));
        pool.Return(first);
        var second = pool.Rent(TimeSpan.FromMinutes(5));
        Assert.Same(first, second);
        Assert.False(second.IsCancellationRequested);

        second.Cancel();
        pool.Return(second);
        Assert.NotSame(second, pool.Rent(TimeSpan.FromMinutes(5)));
    }

    [Fact]
    public void Each_rental_times_out_on_the_injected_clock_counted_from_the_rental()
    {
        // (A source on another clock than the system's cannot be reset, so it is not reused: CancellationTokenSource.TryReset.)
        var time = new FakeTimeProvider();
        var pool = new TimeoutSources(time);

        var first = pool.Rent(TimeSpan.FromSeconds(5));
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(first.IsCancellationRequested);
        pool.Return(first);

        var second = pool.Rent(TimeSpan.FromSeconds(5));
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(second.IsCancellationRequested);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(second.IsCancellationRequested);
        pool.Return(second);

        var third = pool.Rent(TimeSpan.FromSeconds(5));
        Assert.NotSame(second, third);
        Assert.False(third.IsCancellationRequested);
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.True(third.IsCancellationRequested);
    }
}
