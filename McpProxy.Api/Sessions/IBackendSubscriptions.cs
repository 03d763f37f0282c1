using ModelContextProtocol.Server;

namespace McpProxy.Sessions;

/// <summary>
/// Subscribes a backend to a resource on behalf of the clients that watch it, and unsubscribes it once none does —
/// legacy sessions (<c>resources/subscribe</c>) and modern listen streams (<c>resourceSubscriptions</c>) counted
/// together, so one kind never unsubscribes what the other still needs. Implemented above this folder, by the call
/// pipeline (<c>Pipeline/BackendSubscriptions</c>): the backend's subscription is a call like any other.
/// </summary>
internal interface IBackendSubscriptions
{
    /// <summary>A listen stream was granted updates of <paramref name="namespacedUri"/>; the backend is subscribed if no one else watches it.</summary>
    Task WatchAsync(McpServer session, string namespacedUri, CancellationToken cancellationToken);

    /// <summary>A listen stream ended; the backend is unsubscribed when no legacy session or listen stream watches the URI any more.</summary>
    Task UnwatchAsync(McpServer session, string namespacedUri);
}
