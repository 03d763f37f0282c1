namespace McpProxy.Tests.Infrastructure;

/// <summary>
/// A clock whose wall time the test moves forward (<see cref="Advance"/>) while its timers and timestamps stay real:
/// for a policy window (a breaker's wait, an ejection) in a proxy whose retries, hedges and timeouts must still run on
/// their own. <see cref="Microsoft.Extensions.Time.Testing.FakeTimeProvider"/> stops those timers too.
/// </summary>
internal sealed class ShiftedClock : TimeProvider
{
    private long _offsetTicks;

    public override DateTimeOffset GetUtcNow() => TimeProvider.System.GetUtcNow() + TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));

    public void Advance(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);
}
