using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using McpProxy.Backends;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace McpProxy.Routing;

/// <summary>
/// The client side of the proxy: tracks live client sessions and relays what backends send to the right ones —
/// <c>list_changed</c> to every session, progress to the caller that asked for it, <c>resources/updated</c> to the
/// sessions subscribed to that URI, and log messages to every session.
/// </summary>
internal sealed partial class SessionHub(ProxyCatalog catalog, ILogger<SessionHub> logger)
{
    private readonly ConcurrentDictionary<McpServer, byte> _sessions = new();
    private readonly ConcurrentDictionary<string, ProgressRoute> _progress = new(StringComparer.Ordinal);
    // Namespaced resource URI → the sessions subscribed to it.
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<McpServer, byte>> _subscriptions = new(StringComparer.Ordinal);
    private long _progressIds;

    public int ActiveSessions => _sessions.Count;

    /// <summary>The only connected session, when there is exactly one.</summary>
    public McpServer? SoleSession()
    {
        using var e = _sessions.Keys.GetEnumerator();
        return e.MoveNext() && _sessions.Count == 1 ? e.Current : null;
    }

    /// <summary>Runs one client session, keeping it in the set of live sessions while it runs.</summary>
    public async Task RunSessionAsync(McpServer session, CancellationToken cancellationToken)
    {
        _sessions.TryAdd(session, 0);
        try
        {
            await session.RunAsync(cancellationToken);
        }
        finally
        {
            _sessions.TryRemove(session, out _);
            foreach (var subscribers in _subscriptions.Values)
            {
                subscribers.TryRemove(session, out _);
            }
        }
    }

    /// <summary>Tells every session that the given lists changed.</summary>
    public void BroadcastListChanged(CatalogParts parts)
    {
        foreach (var session in _sessions.Keys)
        {
            if (parts.HasFlag(CatalogParts.Tools))
            {
                Send(session, NotificationMethods.ToolListChangedNotification, null);
            }

            if (parts.HasFlag(CatalogParts.Prompts))
            {
                Send(session, NotificationMethods.PromptListChangedNotification, null);
            }

            if (parts.HasFlag(CatalogParts.Resources))
            {
                Send(session, NotificationMethods.ResourceListChangedNotification, null);
            }
        }
    }

    /// <summary>
    /// When the caller asked for progress, gives the request a proxy-unique progress token for the backend and
    /// relays the backend's progress back under the caller's own token until the returned scope is disposed.
    /// </summary>
    public ProgressScope BeginProgress(McpServer session, RequestParams request, out JsonObject? meta)
    {
        meta = request.Meta;
        if (request.ProgressToken is not { } clientToken)
        {
            return default;
        }

        var backendToken = "mcp-proxy-" + Interlocked.Increment(ref _progressIds).ToString(System.Globalization.CultureInfo.InvariantCulture);
        _progress[backendToken] = new ProgressRoute(session, clientToken);
        meta = (JsonObject)request.Meta!.DeepClone();
        meta["progressToken"] = backendToken;
        return new ProgressScope(this, backendToken);
    }

    /// <summary>
    /// Called in the order a backend's messages are read, before the MCP client dispatches them (it dispatches
    /// concurrently): progress for a call in flight is relayed from here, one notification after the other, so the
    /// caller gets it in the order the backend sent it, and the call's response waits for it
    /// (<see cref="ProgressScope.DrainAsync"/>).
    /// </summary>
    public void OnBackendMessageRead(JsonRpcMessage message)
    {
        if (message is JsonRpcNotification { Method: NotificationMethods.ProgressNotification, Params: JsonObject parameters }
            && parameters["progressToken"] is JsonValue tokenValue && tokenValue.TryGetValue<string>(out var token)
            && _progress.TryGetValue(token, out var route))
        {
            var p = (JsonObject)parameters.DeepClone();
            p["progressToken"] = JsonSerializer.SerializeToNode(route.ClientToken, McpJsonUtilities.DefaultOptions);
            route.Relay(p, this);
        }
    }

    public void Subscribe(McpServer session, string namespacedUri) =>
        _subscriptions.GetOrAdd(namespacedUri, _ => new()).TryAdd(session, 0);

    /// <summary>Removes a subscription; returns true when no session is subscribed to the URI any more.</summary>
    public bool Unsubscribe(McpServer session, string namespacedUri)
    {
        if (_subscriptions.TryGetValue(namespacedUri, out var subscribers))
        {
            subscribers.TryRemove(session, out _);
            return subscribers.IsEmpty;
        }

        return true;
    }

    /// <summary>Relays a notification a backend sent.</summary>
    public ValueTask OnBackendNotificationAsync(BackendConnection backend, JsonRpcNotification notification)
    {
        switch (notification.Method)
        {
            case NotificationMethods.ProgressNotification:
                break; // relayed in read order by OnBackendMessageRead

            case NotificationMethods.ResourceUpdatedNotification:
                if (notification.Params?["uri"] is JsonValue uriValue && uriValue.TryGetValue<string>(out var uri)
                    && _subscriptions.TryGetValue(catalog.Namespace(backend.Name, uri), out var subscribers))
                {
                    foreach (var session in subscribers.Keys)
                    {
                        var p = (JsonObject)notification.Params.DeepClone();
                        p["uri"] = catalog.Namespace(backend.Name, uri);
                        Send(session, NotificationMethods.ResourceUpdatedNotification, p);
                    }
                }

                break;

            case NotificationMethods.LoggingMessageNotification:
                if (notification.Params is JsonObject logParams)
                {
                    foreach (var session in _sessions.Keys)
                    {
                        var p = (JsonObject)logParams.DeepClone();
                        p["logger"] = p["logger"] is JsonValue v && v.TryGetValue<string>(out var inner)
                            ? catalog.Namespace(backend.Name, inner)
                            : backend.Name;
                        Send(session, NotificationMethods.LoggingMessageNotification, p);
                    }
                }

                break;
        }

        return ValueTask.CompletedTask;
    }

    private void Send(McpServer session, string method, JsonNode? parameters)
    {
        _ = SendAsync();

        async Task SendAsync()
        {
            try
            {
                await session.SendMessageAsync(new JsonRpcNotification { Method = method, Params = parameters });
            }
            catch (Exception ex)
            {
                LogRelayFailed(method, ex.Message);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Relaying {Method} to a client session failed: {Error}")]
    private partial void LogRelayFailed(string method, string error);

    /// <summary>Where a backend progress token goes, and the chain of its relays (in the order they were read).</summary>
    private sealed class ProgressRoute(McpServer session, ProgressToken clientToken)
    {
        private readonly Lock _gate = new();
        private Task _tail = Task.CompletedTask;

        public McpServer Session { get; } = session;
        public ProgressToken ClientToken { get; } = clientToken;

        /// <summary>Every relay queued so far has been sent (or has failed).</summary>
        public Task Tail
        {
            get
            {
                lock (_gate)
                {
                    return _tail;
                }
            }
        }

        public void Relay(JsonObject parameters, SessionHub hub)
        {
            lock (_gate)
            {
                _tail = SendAfterAsync(_tail, parameters, hub);
            }
        }

        private async Task SendAfterAsync(Task previous, JsonObject parameters, SessionHub hub)
        {
            await previous.ConfigureAwait(false);
            try
            {
                await Session.SendMessageAsync(new JsonRpcNotification { Method = NotificationMethods.ProgressNotification, Params = parameters });
            }
            catch (Exception ex)
            {
                hub.LogRelayFailed(NotificationMethods.ProgressNotification, ex.Message);
            }
        }
    }

    internal readonly struct ProgressScope(SessionHub? hub, string? token) : IDisposable
    {
        /// <summary>
        /// Waits (briefly, at most <paramref name="limit"/>) until every progress notification the backend sent before its
        /// response has been relayed, so the caller sees them before the result.
        /// </summary>
        public async ValueTask DrainAsync(TimeSpan limit)
        {
            if (hub is not null && token is not null && hub._progress.TryGetValue(token, out var route))
            {
                try
                {
                    await route.Tail.WaitAsync(limit);
                }
                catch (TimeoutException)
                {
                }
            }
        }

        public void Dispose()
        {
            if (hub is not null && token is not null)
            {
                hub._progress.TryRemove(token, out _);
            }
        }
    }
}
