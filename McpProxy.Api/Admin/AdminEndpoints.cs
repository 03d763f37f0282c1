using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using McpProxy.Backends;
using McpProxy.Caching;
using McpProxy.Configuration;
using McpProxy.Replicas;
using McpProxy.Resilience;
using McpProxy.Routing;
using Microsoft.AspNetCore.Http.HttpResults;

namespace McpProxy.Admin;

/// <summary>
/// Admin: the operator's JSON API under <c>/admin</c> — <c>GET backends</c> (each backend's transport, health,
/// circuit, ejection, last error, the counts of tools, prompts and resources it exposes after filtering), <c>GET health</c> (503 below <c>health_min_ready_percent</c>),
/// <c>GET cache/stats</c>, <c>POST cache/clear</c>, <c>GET config</c> (the effective config, secrets redacted) and,
/// with <c>[observability.metrics] enabled</c>, Prometheus text at <c>GET metrics</c>.
/// </summary>
internal static class AdminEndpoints
{
    public const string Redacted = ConfigRedaction.Redacted;

    public static RouteGroupBuilder MapProxyAdmin(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/admin");
        admin.MapGet("/backends", (BackendRegistry registry, ProxyCatalog catalog) =>
        {
            var exposed = ExposedCounts(catalog);
            return TypedResults.Ok(registry.Backends.Concat(registry.Mirrors).Select(b => Describe(b, exposed.GetValueOrDefault(b.Name))));
        });
        admin.MapGet("/health", Health);
        // Which replica answered (also the X-McpProxy-Instance header of every response) and whether it shares its sessions.
        admin.MapGet("/instance", (ReplicaInstance instance) => TypedResults.Ok(new { instance = instance.Id, shared = instance.Shared }));
        // The name policy's rule and every tool and prompt whose exposed name differs from its canonical name.
        admin.MapGet("/names", (ProxyCatalog catalog) => TypedResults.Ok(new
        {
            rule = catalog.Names.Describe(),
            maxLength = catalog.Names.MaxLength,
            charset = catalog.Names.Charset.ToString().ToLowerInvariant(),
            separator = catalog.Names.ExposedSeparator,
            rewrites = catalog.Rewrites().Select(r => new { kind = r.Kind, canonical = r.Canonical, exposed = r.Exposed }),
        }));
        admin.MapGet("/cache/stats", CacheStats);
        admin.MapPost("/cache/clear", async (ResponseCache cache, CancellationToken ct) =>
        {
            await cache.ClearAsync(ct);
            return TypedResults.Ok(new { cleared = true });
        });
        admin.MapGet("/config", (ProxyConfig config, BackendRegistry registry) =>
            TypedResults.Content(ConfigRedaction.ToJson(EffectiveConfig(config, registry.Configs)), "application/json"));
        return admin;
    }

    /// <summary>
    /// Per backend, the tools, prompts and resources the catalog exposes to clients: after <c>expose_*</c>/<c>hide_*</c>,
    /// aliases and shadowing, so the counts match what <c>tools/list</c> shows (a mirror, never listed, has none).
    /// </summary>
    private static Dictionary<string, ExposedCount> ExposedCounts(ProxyCatalog catalog)
    {
        var snapshot = catalog.Current;
        var counts = new Dictionary<string, ExposedCount>(StringComparer.Ordinal);
        void Add(string backend, Func<ExposedCount, ExposedCount> change) => counts[backend] = change(counts.GetValueOrDefault(backend));
        foreach (var tool in snapshot.ToolsByName.Values)
        {
            Add(tool.Backend.Name, c => c with { Tools = c.Tools + 1 });
        }

        foreach (var prompt in snapshot.PromptsByName.Values)
        {
            Add(prompt.Backend.Name, c => c with { Prompts = c.Prompts + 1 });
        }

        foreach (var resource in snapshot.Resources)
        {
            if (catalog.TrySplit(resource.Uri, out var route, out _))
            {
                Add(route.Backend.Name, c => c with { Resources = c.Resources + 1 });
            }
        }

        return counts;
    }

    private readonly record struct ExposedCount(int Tools, int Prompts, int Resources);

    private static BackendStatus Describe(BackendConnection b, ExposedCount exposed) => new(
        b.Name,
        b.Config.Transport.ToString().ToLowerInvariant(),
        b.State.ToString().ToLowerInvariant(),
        b.Era,
        b.Config.MirrorOf,
        b.PublicError,
        b.ReadySince,
        b.Restarts,
        exposed.Tools,
        exposed.Prompts,
        exposed.Resources,
        b.Resilience.Breaker is { } breaker
            ? new CircuitStatus(breaker.State.ToString().ToLowerInvariant(), breaker.State == CircuitState.Open ? breaker.OpenUntil : null)
            : null,
        b.Resilience.Outlier is { } outlier ? new EjectionStatus(outlier.IsEjected, outlier.IsEjected ? outlier.EjectedUntil : null, outlier.Ejections) : null,
        b.FastWire is not null,
        b.FastPathCalls);

    private static Results<Ok<HealthStatus>, JsonHttpResult<HealthStatus>> Health(BackendRegistry registry, ProxyConfig config)
    {
        var total = registry.Backends.Count;
        var ready = registry.Backends.Count(b => b.State == BackendState.Ready);
        var percent = total == 0 ? 100 : 100.0 * ready / total;
        var threshold = config.Observability.HealthMinReadyPercent;
        var status = new HealthStatus(
            ready == total ? "healthy" : percent >= threshold ? "degraded" : "unhealthy",
            ready,
            total,
            threshold,
            registry.Backends.ToDictionary(b => b.Name, b => b.State.ToString().ToLowerInvariant()));
        return percent >= threshold
            ? TypedResults.Ok(status)
            : TypedResults.Json(status, statusCode: StatusCodes.Status503ServiceUnavailable);
    }

    private static Ok<CacheStatsResponse> CacheStats(ResponseCache cache, RequestCoalescer coalescer, CacheLayer layer) =>
        TypedResults.Ok(new CacheStatsResponse(
            layer.Distributed,
            layer.Endpoint,
            cache.Hits,
            cache.Misses,
            coalescer.Coalesced,
            cache.Counters.ToDictionary(
                c => c.Key,
                c => new BackendCacheStats(Interlocked.Read(ref c.Value.Hits), Interlocked.Read(ref c.Value.Misses), Interlocked.Read(ref c.Value.Entries)))));

    /// <summary>The config in effect (hot-reloaded backends included) with every secret redacted (<see cref="ConfigRedaction"/>).</summary>
    internal static JsonObject EffectiveConfig(ProxyConfig config, IReadOnlyList<BackendConfig> backends) => ConfigRedaction.Redact(config, backends);

    internal sealed record BackendStatus(
        string Name, string Transport, string State, string? Protocol, string? MirrorOf, string? LastError, DateTimeOffset? ReadySince, int Restarts,
        int Tools, int Prompts, int Resources, CircuitStatus? Circuit, EjectionStatus? Ejection, bool FastPath, long FastPathCalls);

    internal sealed record CircuitStatus(string State, DateTimeOffset? OpenUntil);

    internal sealed record EjectionStatus(bool Ejected, DateTimeOffset? Until, int Ejections);

    internal sealed record HealthStatus(string Status, int Ready, int Total, double MinReadyPercent, Dictionary<string, string> Backends);

    internal sealed record CacheStatsResponse(string Layer, string? Endpoint, long Hits, long Misses, long Coalesced, Dictionary<string, BackendCacheStats> Backends);

    internal sealed record BackendCacheStats(long Hits, long Misses, long Entries);
}
