using McpProxy.Admin;
using McpProxy.Backends;
using McpProxy.Caching;
using McpProxy.Configuration;
using McpProxy.Observability;
using McpProxy.Resilience;
using McpProxy.Routing;
using McpProxy.Security;
using McpProxy.Sessions;
using McpProxy.Transport;
using Microsoft.Extensions.DependencyInjection.Extensions;
using ModelContextProtocol.AspNetCore;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

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

        var services = builder.Services;
        services.AddSingleton(config);
        services.AddSingleton<ProxyCatalog>();
        services.AddSingleton<SessionHub>();
        services.AddSingleton<SessionLimiter>();
        services.AddSingleton<BackendRegistry>();
        services.AddHostedService(sp => sp.GetRequiredService<BackendRegistry>());
        services.AddSingleton<ProxyHandlers>();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<OutlierEjections>();
        services.AddSingleton<ResilienceMetrics>();
        services.AddSingleton<ResilienceServices>();
        services.AddSingleton<TrafficMirror>();
        services.AddSingleton<InFlightCalls>();
        services.AddSingleton<ResponseCache>();
        services.AddSingleton<RequestCoalescer>();
        services.AddSingleton<ProxyTelemetry>();
        // Each component's instruments on the shared Meter, built with ProxyTelemetry.
        services.AddProxyInstruments<BackendMetrics>().AddProxyInstruments<InFlightMetrics>()
            .AddProxyInstruments<SessionMetrics>().AddProxyInstruments<CacheMetrics>();
        services.AddHostedService<ConfigWatcher>();
        builder.AddProxyObservability(config.Observability);

        // HTTP backends: a shared pool, service discovery resolved once per backend session (BackendHttp).
        services.AddSingleton(sp => new BackendHttp(sp.GetService<Microsoft.Extensions.ServiceDiscovery.ServiceEndpointResolver>()));
        builder.AddProxySecurity(config);

        services.AddHealthChecks().AddCheck<BackendsHealthCheck>("backends")
            .AddCheck<ShutdownHealthCheck>("shutdown"); // 503 once the shutdown drain begins
        builder.AddProxyCaching();

        services.AddMcpServer(options =>
            {
                options.ServerInfo = new Implementation { Name = config.Proxy.Name, Version = config.Proxy.Version };
                options.ServerInstructions = config.Proxy.Instructions;

                options.Capabilities = new ServerCapabilities
                {
                    Tools = new ToolsCapability { ListChanged = true },
                    Prompts = new PromptsCapability { ListChanged = true },
                    Resources = new ResourcesCapability { ListChanged = true, Subscribe = true },
                    Completions = new CompletionsCapability(),
                    Logging = new LoggingCapability(),
                };
            })
            .WithHttpTransport(options =>
            {
                // Stateful sessions: the proxy pushes list_changed, progress and resource updates to its clients.
                options.SessionMode = HttpServerSessionMode.Stateful;
                // [proxy.listen] legacy_sse: the deprecated HTTP+SSE transport at {path}/sse and {path}/message (LegacySse).
#pragma warning disable MCP9004 // obsolete for its lack of backpressure on /message: off unless the operator opts in (README "Legacy clients")
                options.EnableLegacySse = config.Proxy.Listen.LegacySse;
#pragma warning restore MCP9004
#pragma warning disable MCPEXP002 // RunSessionHandler is experimental; it is the one hook that sees every session start and end.
                // Each session holds its SessionLimiter slot until it ends; SessionHub keeps it (and its caller) for the relay.
                options.RunSessionHandler = (http, server, ct) => SessionLimitMiddleware.RunSessionAsync(
                    http, server, (session, c) => http.RequestServices.GetRequiredService<SessionHub>().RunSessionAsync(session, http.User, c), ct);
#pragma warning restore MCPEXP002

                // [proxy.sessions]: idle sessions close after idle_timeout_seconds. The caps are SessionLimiter's; the
                // SDK's MaxIdleSessionCount (which evicts the oldest idle sessions of any caller) stays above them.
#pragma warning disable MCP9006 // obsolete only because stateful mode is (see SessionMode above)
                options.IdleTimeout = TimeSpan.FromSeconds(config.Proxy.Sessions.IdleTimeoutSeconds);
                options.MaxIdleSessionCount = config.Proxy.Sessions.MaxSessions + 1;
#pragma warning restore MCP9006
            })
            .WithListToolsHandler((ctx, ct) => Handlers(ctx.Services).ListToolsAsync(ctx, ct))
            .WithCallToolHandler((ctx, ct) => Handlers(ctx.Services).CallToolAsync(ctx, ct))
            .WithListPromptsHandler((ctx, ct) => Handlers(ctx.Services).ListPromptsAsync(ctx, ct))
            .WithGetPromptHandler((ctx, ct) => Handlers(ctx.Services).GetPromptAsync(ctx, ct))
            .WithListResourcesHandler((ctx, ct) => Handlers(ctx.Services).ListResourcesAsync(ctx, ct))
            .WithListResourceTemplatesHandler((ctx, ct) => Handlers(ctx.Services).ListResourceTemplatesAsync(ctx, ct))
            .WithReadResourceHandler((ctx, ct) => Handlers(ctx.Services).ReadResourceAsync(ctx, ct))
            .WithCompleteHandler((ctx, ct) => Handlers(ctx.Services).CompleteAsync(ctx, ct))
            .WithSubscribeToResourcesHandler((ctx, ct) => Handlers(ctx.Services).SubscribeAsync(ctx, ct))
            .WithUnsubscribeFromResourcesHandler((ctx, ct) => Handlers(ctx.Services).UnsubscribeAsync(ctx, ct))
            .WithSetLoggingLevelHandler((ctx, ct) => Handlers(ctx.Services).SetLoggingLevelAsync(ctx, ct));

        // The idle timeout runs on the app's TimeProvider (tests drive it).
        services.AddOptions<HttpServerTransportOptions>()
            .Configure<TimeProvider>((options, time) => options.TimeProvider = time);

        // A client that drops its POST cancels the call it carried (ClientDisconnect).
        services.AddHttpContextAccessor();
        services.AddOptions<McpServerOptions>().Configure<IHttpContextAccessor, ILoggerFactory>((options, accessor, loggers) =>
            options.Filters.Message.IncomingFilters.Add(ClientDisconnect.Filter(accessor, loggers.CreateLogger("McpProxy.Routing"))));

        // A client's roots changed: tell the backends, which then ask again (relayed by ClientRequestRelay).
        services.AddOptions<McpServerOptions>().Configure<IServiceProvider>((options, provider) =>
            options.Handlers.NotificationHandlers =
            [
                new(NotificationMethods.RootsListChangedNotification, (_, ct) => RootsChangedAsync(provider, ct)),
                // A backend that asked roots/list before any client was there got an empty list (ClientRequestRelay):
                // once a client is the only session, the backends are told to ask again, and it answers.
                new(NotificationMethods.InitializedNotification, (_, ct) =>
                    provider.GetService<SessionHub>()?.SoleSession() is null ? default : RootsChangedAsync(provider, ct)),
            ]);

        return builder;

        static async ValueTask RootsChangedAsync(IServiceProvider? services, CancellationToken ct)
        {
            var registry = services?.GetService<BackendRegistry>();
            foreach (var backend in registry?.Backends ?? [])
            {
                await backend.NotifyAsync(NotificationMethods.RootsListChangedNotification, ct);
            }
        }

        static ProxyHandlers Handlers(IServiceProvider? services) =>
            (services ?? throw new InvalidOperationException("No request services")).GetRequiredService<ProxyHandlers>();
    }

    public static WebApplication MapMcpProxy(this WebApplication app)
    {
        var config = app.Services.GetRequiredService<ProxyConfig>();
        if (config.Proxy.Listen.LegacySse)
        {
            app.RootAliases(config); // /sse and /message → {path}/sse and {path}/message, so routing must come after
            app.UseRouting();
        }

        app.UseProxySecurity(config);
        app.UseMiddleware<SessionLimitMiddleware>(); // after authentication: the per-caller cap needs the caller
        app.Explain(config); // after authorization: a caller without a token still gets 401 first
        app.MapDefaultEndpoints(); // /health and /alive stay open
        app.MapProxyAdmin().RequireAuthorization(SecurityServices.AdminPolicy);
        if (config.Observability.Metrics.Enabled)
        {
            app.MapPrometheusScrapingEndpoint(ObservabilityServices.MetricsPath).RequireAuthorization(SecurityServices.AdminPolicy);
        }

        app.MapMcp(config.Proxy.Listen.Path).RequireAuthorization(SecurityServices.ClientPolicy);
        return app;
    }
}
