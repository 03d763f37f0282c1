using McpProxy.Admin;
using McpProxy.Backends;
using McpProxy.Caching;
using McpProxy.Configuration;
using McpProxy.Eras;
using McpProxy.FastPath;
using McpProxy.Observability;
using McpProxy.Reload;
using McpProxy.Resilience;
using McpProxy.Routing;
using McpProxy.Security;
using McpProxy.Sessions;
using McpProxy.Mirroring;
using McpProxy.Mrtr;
using McpProxy.Pipeline;
using McpProxy.Replicas;
using McpProxy.Transport;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace McpProxy;

/// <summary>Wires McpProxy into an ASP.NET Core app: <c>AddMcpProxy(config)</c> then <c>MapMcpProxy()</c>.</summary>
public static class McpProxyExtensions
{
    public static WebApplicationBuilder AddMcpProxy(this WebApplicationBuilder builder, ProxyConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);

        // [proxy.listen] decides where we listen unless the host was given URLs explicitly (--urls, ASPNETCORE_URLS,
        // or Aspire's endpoint wiring).
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["http_ports"]))
        {
            var host = config.Proxy.Listen.Host.Contains(':', StringComparison.Ordinal) ? $"[{config.Proxy.Listen.Host}]" : config.Proxy.Listen.Host;
            builder.WebHost.UseUrls($"http://{host}:{config.Proxy.Listen.Port}");
        }

        // The drain (shutdown_timeout_seconds), then a moment for the calls cut at its end to be answered and the
        // children to stop (BackendConnection.CutGrace), before the listener is torn down.
        builder.WebHost.UseShutdownTimeout(TimeSpan.FromSeconds(config.Proxy.ShutdownTimeoutSeconds) + BackendConnection.CutGrace + BackendConnection.CutGrace);

        // One registration per concern, lowest layer first (README: Architecture).
        var services = builder.Services;
        services.AddSingleton(config);
        services.TryAddSingleton(TimeProvider.System);
        builder.AddProxyObservability(config.Observability);
        services.AddSingleton<ProxyTelemetry>();
        services.AddProxyResilience();
        builder.AddProxyCaching();
        builder.AddProxyReplicas(); // after caching: it shares the cache's Redis
        builder.AddProxySecurity(config);
        services.AddProxyMrtr();
        services.AddProxyBackends();
        services.AddProxyRouting();
        services.AddHostedService<ConfigWatcher>(); // hot reload
        services.AddProxyMirroring();
        services.AddProxySessions();
        services.AddProxyListen();
        services.AddProxyPipeline();
        services.AddProxyFastPath();
        services.AddProxyAdmin();
        builder.AddProxyMcpServer(config);
        return builder;
    }

    public static WebApplication MapMcpProxy(this WebApplication app)
    {
        var config = app.Services.GetRequiredService<ProxyConfig>();
        app.UseProxyReplicaHeader(); // X-McpProxy-Instance on every response
        if (config.Proxy.Listen.LegacySse)
        {
            app.RootAliases(config); // /sse and /message → {path}/sse and {path}/message, so routing must come after
            app.UseRouting();
        }

        app.UseProxyRequestChecks(); // body limit, error guard, Origin
        // The fast path (modern calls to modern HTTP backends as bytes) runs once the MCP endpoint's policy has admitted the
        // caller: after authorization with [auth]; without it the endpoint has no policy, and it runs before the
        // authorization middleware (which would only mark the request). What runs after it up to the endpoint concerns
        // legacy sessions, legacy headers and GETs, none of which it takes.
        var authenticates = SecurityServices.AuthenticatesCallers(config);
        if (!authenticates)
        {
            app.UseProxyFastPath();
        }

        app.UseProxyAuthorization(config);
        if (authenticates)
        {
            app.UseProxyFastPath();
        }

        app.UseProxyReplicas(); // shared legacy sessions: tombstones and expiry, judged by the authenticated caller
        app.UseMiddleware<SessionLimitMiddleware>(); // after authentication: the per-caller cap needs the caller
        app.UseEraMismatchCheck(config.Proxy.Listen.Path); // a legacy header over a modern _meta: -32020, as the SDK does for the rest
        app.Explain(config); // after authorization: a caller without a token still gets 401 first
        app.MapDefaultEndpoints(); // /health and /alive stay open
        app.MapProxyAdmin().RequireAuthorization(SecurityServices.AdminPolicy);
        if (config.Observability.Metrics.Enabled)
        {
            app.MapPrometheusScrapingEndpoint(ObservabilityServices.MetricsPath).RequireAuthorization(SecurityServices.AdminPolicy);
        }

        var mcp = app.MapMcp(config.Proxy.Listen.Path);
        if (SecurityServices.AuthenticatesCallers(config))
        {
            // Without [auth] the client policy admits everyone: evaluating it per request would only cost.
            mcp.RequireAuthorization(SecurityServices.ClientPolicy);
        }

        return app;
    }
}
