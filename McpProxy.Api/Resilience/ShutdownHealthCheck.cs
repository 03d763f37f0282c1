using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace McpProxy.Resilience;

/// <summary>
/// <c>/health</c> during shutdown: unhealthy (503) from the moment the drain begins, so a load balancer stops sending
/// new calls while the calls in flight finish. <c>/alive</c> does not include it: the process is still alive.
/// </summary>
internal sealed class ShutdownHealthCheck(InFlightCalls inFlight) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(inFlight.IsStopping
            ? HealthCheckResult.Unhealthy($"shutting down: draining {inFlight.Count} calls in flight")
            : HealthCheckResult.Healthy("accepting calls"));
}
