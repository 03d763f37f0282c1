using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using McpProxy.Backends;
using McpProxy.Routing;
using McpProxy.Security;
using ModelContextProtocol.Protocol;

namespace McpProxy.Sessions;

/// <summary>
/// The modern (2026-07-28) clients' <c>subscriptions/listen</c> streams on this replica, and the fan-in of what the
/// backends report into them: a backend's list change reaches the streams that asked for that list; a backend's
/// <c>notifications/resources/updated</c> reaches the streams that were granted that (namespaced) URI — granted only
/// when the caller may use it (<see cref="ListenHandler"/>). Each stream has its own bounded queue (drop-oldest,
/// counted), like a legacy session's (<see cref="ClientSession"/>). Replicas need no fan-out between them: each has its
/// own backend connections, which each receive the backends' notifications.
/// </summary>
internal sealed partial class ListenHub(ProxyCatalog catalog, ILogger<ListenHub> logger)
{
    /// <summary>Notifications queued for one listen stream at most.</summary>
    public const int QueueCapacity = ClientSession.OutboxCapacity;

    private readonly ConcurrentDictionary<Listener, byte> _listeners = new();
    private long _dropped;

    public int ActiveStreams => _listeners.Count;

    /// <summary>Notifications dropped because a listen stream's queue was full (<c>mcp_proxy.listen.notifications_dropped</c>).</summary>
    public long DroppedNotifications => Interlocked.Read(ref _dropped);

    /// <summary>Adds a stream with what it was granted; dispose the result when the stream ends.</summary>
    public Listener Register(ListenGrant grant)
    {
        var listener = new Listener(this, grant);
        _listeners[listener] = 0;
        return listener;
    }

    /// <summary>Whether any listen stream was granted updates of this namespaced, normalized URI.</summary>
    public bool IsWatched(string namespacedUri) => _listeners.Keys.Any(l => l.Grant.ResourceSubscriptions.ContainsKey(namespacedUri));

    /// <summary>Backends' lists changed: one notification per granted type to each stream that asked for it.</summary>
    public void PublishListChanged(CatalogParts parts)
    {
        foreach (var listener in _listeners.Keys)
        {
            var grant = listener.Grant;
            if (parts.HasFlag(CatalogParts.Tools) && grant.ToolsListChanged)
            {
                listener.Enqueue(NotificationMethods.ToolListChangedNotification, null);
            }

            if (parts.HasFlag(CatalogParts.Prompts) && grant.PromptsListChanged)
            {
                listener.Enqueue(NotificationMethods.PromptListChangedNotification, null);
            }

            if (parts.HasFlag(CatalogParts.Resources) && grant.ResourcesListChanged)
            {
                listener.Enqueue(NotificationMethods.ResourceListChangedNotification, null);
            }
        }
    }

    /// <summary>A backend's message, in read order: <c>notifications/resources/updated</c> goes to the streams granted that URI.</summary>
    public void OnBackendMessageRead(BackendConnection backend, JsonRpcMessage message)
    {
        if (message is not JsonRpcNotification { Method: NotificationMethods.ResourceUpdatedNotification, Params: JsonObject parameters } || _listeners.IsEmpty)
        {
            return;
        }

        try
        {
            if (parameters["uri"] is not JsonValue uriValue || !uriValue.TryGetValue<string>(out var uri)
                || !ResourceUri.TryNormalize(uri, out var normalized, out _))
            {
                return;
            }

            // As for legacy sessions (SessionHub): a backend speaks only for its own exposed resources.
            var namespaced = catalog.Namespace(backend.Name, normalized);
            if (!catalog.TrySplit(namespaced, out var route, out var original) || route.Backend.Name != backend.Name || !route.Resources.IsAllowed(original))
            {
                return;
            }

            foreach (var listener in _listeners.Keys)
            {
                if (listener.Grant.ResourceSubscriptions.TryGetValue(namespaced, out var asked) && listener.Grant.Caller.CanUseResource(namespaced))
                {
                    var p = (JsonObject)parameters.DeepClone();
                    p.Remove("_meta");
                    p["uri"] = asked; // the URI as the client spelled it in resourceSubscriptions
                    listener.Enqueue(NotificationMethods.ResourceUpdatedNotification, p);
                }
            }
        }
        catch (Exception ex)
        {
            // Never break the backend's read loop over a malformed notification.
            LogRelayRejected(backend.Name, ex.Message);
        }
    }

    private void OnDropped(Listener listener, string method)
    {
        var total = Interlocked.Increment(ref _dropped);
        if (listener.Dropped == 1 || listener.Dropped % QueueCapacity == 0)
        {
            LogDropped(QueueCapacity, method, total);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Backend '{Backend}': resources/updated not relayed to listen streams: {Error}")]
    private partial void LogRelayRejected(string backend, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "A subscriptions/listen stream reads slower than its notifications arrive: its queue is full ({Capacity}); dropped the oldest ({Method}); {Dropped} dropped so far")]
    private partial void LogDropped(int capacity, string method, long dropped);

    /// <summary>One open listen stream: its grant and its bounded queue (read by <see cref="ListenHandler"/>).</summary>
    internal sealed class Listener : IDisposable
    {
        private readonly ListenHub _hub;
        private readonly Channel<Pending> _queue;
        private long _dropped;

        public Listener(ListenHub hub, ListenGrant grant)
        {
            _hub = hub;
            Grant = grant;
            _queue = Channel.CreateBounded<Pending>(
                new BoundedChannelOptions(QueueCapacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
                dropped => { Interlocked.Increment(ref _dropped); _hub.OnDropped(this, dropped.Method); });
        }

        public ListenGrant Grant { get; }

        public long Dropped => Interlocked.Read(ref _dropped);

        public ChannelReader<Pending> Reader => _queue.Reader;

        /// <summary>Never blocks: a full queue drops its oldest notification.</summary>
        public void Enqueue(string method, JsonObject? parameters) => _queue.Writer.TryWrite(new Pending(method, parameters));

        public void Dispose()
        {
            _hub._listeners.TryRemove(this, out _);
            _queue.Writer.TryComplete();
        }
    }

    /// <summary>A queued notification (params without <c>_meta</c>: the stream adds its subscription id).</summary>
    internal readonly record struct Pending(string Method, JsonObject? Parameters);
}

/// <summary>
/// What one listen stream was granted: the list types it asked for, and the resource URIs it asked for that resolve to
/// an exposed resource its caller may use (normalized namespaced URI → the URI as the client sent it).
/// </summary>
internal sealed record ListenGrant(
    CallerAccess Caller, bool ToolsListChanged, bool PromptsListChanged, bool ResourcesListChanged, IReadOnlyDictionary<string, string> ResourceSubscriptions);
