using System.Collections.Concurrent;
using McpProxy.Sessions;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace McpProxy.Pipeline;

/// <summary>
/// The backends' resource subscriptions on behalf of modern listen streams (<see cref="IBackendSubscriptions"/>): the
/// first stream watching a URI that no legacy session has subscribed to subscribes the backend; the last one to go
/// unsubscribes it unless a legacy session still holds it. The subscription is sent through the short pipeline
/// (drain → resilience → send), as a legacy client's is; a backend that cannot subscribe leaves the stream granted (it
/// may still send updates) and says so in the log.
/// </summary>
internal sealed partial class BackendSubscriptions(CallRouter router, ProxyPipeline pipeline, SessionHub sessions, ILogger<BackendSubscriptions> logger)
    : IBackendSubscriptions
{
    private readonly ConcurrentDictionary<string, int> _watchers = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <summary>Whether a listen stream watches the URI (a legacy unsubscribe then leaves the backend subscribed).</summary>
    public bool IsWatched(string namespacedUri) => _watchers.TryGetValue(namespacedUri, out var count) && count > 0;

    public async Task WatchAsync(McpServer session, string namespacedUri, CancellationToken cancellationToken)
    {
        bool first;
        lock (_gate)
        {
            first = _watchers.AddOrUpdate(namespacedUri, 1, (_, n) => n + 1) == 1;
        }

        if (first && !sessions.HasSubscribers(namespacedUri))
        {
            await SendAsync(session, namespacedUri, subscribe: true, cancellationToken);
        }
    }

    public async Task UnwatchAsync(McpServer session, string namespacedUri)
    {
        bool last;
        lock (_gate)
        {
            var left = _watchers.AddOrUpdate(namespacedUri, 0, (_, n) => Math.Max(0, n - 1));
            last = left == 0 && _watchers.TryRemove(new KeyValuePair<string, int>(namespacedUri, 0));
        }

        if (last && !sessions.HasSubscribers(namespacedUri))
        {
            await SendAsync(session, namespacedUri, subscribe: false, CancellationToken.None);
        }
    }

    private async Task SendAsync(McpServer session, string namespacedUri, bool subscribe, CancellationToken cancellationToken)
    {
        try
        {
            if (router.BackendSubscription(session, namespacedUri, subscribe) is { } call)
            {
                await pipeline.SubscriptionAsync(call, cancellationToken);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogSubscriptionFailed(subscribe ? RequestMethods.ResourcesSubscribe : RequestMethods.ResourcesUnsubscribe, namespacedUri, ex.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Method} '{Uri}' for a listen stream failed: {Error}")]
    private partial void LogSubscriptionFailed(string method, string uri, string error);
}
