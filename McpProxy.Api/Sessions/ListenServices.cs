using System.Diagnostics.Metrics;
using McpProxy.Backends;
using McpProxy.Configuration;
using McpProxy.Observability;
using ModelContextProtocol.Server;

namespace McpProxy.Sessions;

internal static class ListenServices
{
    /// <summary>
    /// <c>subscriptions/listen</c> for 2026-07-28 clients: the hub fed by the backends' list changes and resource updates,
    /// the SDK handler that replaces the built-in one, and the SSE keep-alive middleware (first in the pipeline: it only
    /// wraps the body of listen POSTs and writes nothing before the SDK does).
    /// </summary>
    public static IServiceCollection AddProxyListen(this IServiceCollection services)
    {
        services.AddSingleton<ListenHub>();
        services.AddSingleton<ListenHandler>();
        services.AddProxyInstruments<ListenMetrics>();
        services.AddOptions<ListenOptions>().Configure<TimeProvider>((options, time) => options.Time ??= time);
        services.AddOptions<BackendEvents>().Configure<ListenHub>((events, hub) =>
        {
            events.ListChanged += hub.PublishListChanged;
            events.MessageRead += hub.OnBackendMessageRead;
        });
        services.AddOptions<McpServerOptions>().Configure<IServiceProvider>((options, provider) =>
            options.Handlers.SubscriptionsListenHandler = (ctx, ct) => provider.GetRequiredService<ListenHandler>().ListenAsync(ctx, ct));
        services.AddTransient<IStartupFilter, KeepAliveStartup>();
        return services;
    }

    private sealed class KeepAliveStartup : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.UseMiddleware<ListenKeepAlive>();
            next(app);
        };
    }
}

/// <summary>The listen streams open on this replica and the notifications dropped because a stream's queue was full.</summary>
internal sealed class ListenMetrics : IProxyInstruments
{
    public ListenMetrics(IMeterFactory meterFactory, ProxyConfig config, ListenHub hub)
    {
        var meter = meterFactory.CreateMeter();
        var proxyName = new KeyValuePair<string, object?>("proxy", config.Proxy.Name);
        meter.CreateObservableUpDownCounter("mcp_proxy.listen.streams_active", () => new Measurement<int>(hub.ActiveStreams, proxyName),
            description: "subscriptions/listen streams open on the proxy (2026-07-28 clients).");
        meter.CreateObservableCounter("mcp_proxy.listen.notifications_dropped", () => new Measurement<long>(hub.DroppedNotifications, proxyName),
            description: "Notifications dropped because a subscriptions/listen stream's queue was full (it reads slower than they arrive).");
    }
}
