using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace McpProxy.Backends;

/// <summary><c>/health</c>: healthy when every backend is ready, degraded when some are, unhealthy when none are.</summary>
internal sealed class BackendsHealthCheck(BackendRegistry registry) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var backends = registry.Backends;
        var down = backends.Where(b => b.State != BackendState.Ready).ToList();
        var data = backends.ToDictionary(b => b.Name, b => (object)(b.State.ToString() + (b.PublicError is null ? "" : ": " + b.PublicError)));
        var result = down.Count == 0
            ? HealthCheckResult.Healthy($"{backends.Count} backends ready", data)
            : down.Count < backends.Count
                ? HealthCheckResult.Degraded($"unavailable: {string.Join(", ", down.Select(b => b.Name))}", data: data)
                : HealthCheckResult.Unhealthy($"no backend ready: {string.Join(", ", down.Select(b => b.Name))}", data: data);
        return Task.FromResult(result);
    }
}
