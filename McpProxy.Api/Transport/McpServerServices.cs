using McpProxy.Backends;
using McpProxy.Configuration;
using McpProxy.Pipeline;
using McpProxy.Sessions;
using ModelContextProtocol.AspNetCore;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace McpProxy.Transport;

internal static class McpServerServices
{
    /// <summary>
    /// The MCP server on Streamable HTTP (and legacy SSE when enabled): capabilities, stateful sessions with their caps
    /// and idle timeout, the SDK handlers (<see cref="ProxyHandlers"/>), client disconnects and roots notifications.
    /// </summary>
    public static WebApplicationBuilder AddProxyMcpServer(this WebApplicationBuilder builder, ProxyConfig config)
    {
        var services = builder.Services;
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
                // Both eras on one endpoint (README "Protocol eras"): an initialize opens a stateful session as before (the
                // proxy pushes list_changed, progress and resource updates to it); a 2026-07-28 request (by its
                // MCP-Protocol-Version header) is served statelessly by a server of its own, with no Mcp-Session-Id.
                options.SessionMode = HttpServerSessionMode.StatefulForInitializeClients;
                // [proxy.listen] legacy_sse: the deprecated HTTP+SSE transport at {path}/sse and {path}/message (LegacySse).
#pragma warning disable MCP9004 // obsolete for its lack of backpressure on /message: off unless the operator opts in (README "Legacy clients")
                options.EnableLegacySse = config.Proxy.Listen.LegacySse;
#pragma warning restore MCP9004
#pragma warning disable MCPEXP002 // RunSessionHandler is experimental; it is the one hook that sees every session start and end.
                // Each session holds its SessionLimiter slot until it ends; SessionHub keeps it (and its caller) for the relay.
                // The hook also runs once per modern request (a server without a session id): those are no sessions.
                options.RunSessionHandler = (http, server, ct) => SessionLimitMiddleware.RunSessionAsync(
                    http, server, (session, c) => http.RequestServices.GetRequiredService<SessionHub>().RunSessionAsync(session, http.User, c), ct);
#pragma warning restore MCPEXP002

                // [proxy.sessions]: idle sessions close after idle_timeout_seconds. The caps are SessionLimiter's; the
                // SDK's MaxIdleSessionCount (which evicts the oldest idle sessions of any caller) stays above them.
#pragma warning disable MCP9006 // obsolete only because stateful mode is (see SessionMode above)
                // A session busy on the fast path shows the SDK its use once per ClientSession.TypedTurnEvery; the SDK's
                // timeout is that much longer, so such a session is never reaped while in use.
                var idle = TimeSpan.FromSeconds(config.Proxy.Sessions.IdleTimeoutSeconds);
                options.IdleTimeout = idle + ClientSession.TypedTurnEvery(idle);
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
            options.Filters.Message.IncomingFilters.Add(ClientDisconnect.Filter(accessor, loggers.CreateLogger("McpProxy.Routing") /* the category it always had */)));

        // A legacy client's notifications/cancelled also cancels its call when the fast path answers it (FastCallCancel).
        services.AddOptions<McpServerOptions>().Configure<SessionHub>((options, sessions) => options.Filters.Message.IncomingFilters.Add(FastCallCancel.Filter(sessions)));

        // server/discover lists both eras and carries the proxy's caching hints (DiscoverRewrite).
        services.AddOptions<McpServerOptions>().Configure(options => options.Filters.Message.OutgoingFilters.Add(DiscoverRewrite.Filter()));

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
}
