using System.Collections.Concurrent;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using McpProxy.Backends;
using McpProxy.Eras;
using McpProxy.Routing;
using McpProxy.Security;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace McpProxy.Sessions;

/// <summary>
/// The client side of the proxy: tracks live client sessions and relays what backends send only to the sessions it
/// belongs to — <c>list_changed</c> to every session; progress to the call it was issued for, and only from the backend
/// that call went to; <c>resources/updated</c> to the sessions subscribed to that URI whose caller may use it; a
/// backend's log messages to the sessions with a call in flight on that backend whose caller may use the backend, at or
/// above each session's own log level. Everything goes through each session's bounded queue (<see cref="ClientSession"/>).
/// </summary>
internal sealed partial class SessionHub(ProxyCatalog catalog, AccessPolicy access, TimeProvider time, ILogger<SessionHub> logger)
{
    private readonly ConcurrentDictionary<string, ClientSession> _sessions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ProgressRoute> _progress = new(StringComparer.Ordinal);
    // Modern (2026-07-28) calls in flight: each has no session, only its own response stream (a ClientSession of the call alone).
    private readonly ConcurrentDictionary<ClientSession, BackendConnection> _modernCalls = new();
    // Namespaced resource URI → the sessions subscribed to it.
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<ClientSession, byte>> _subscriptions = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _levelGate = new(1, 1);
    private LoggingLevel? _pushedLevel;
    private long _dropped;

    public int ActiveSessions => _sessions.Count;

    /// <summary>Notifications dropped because a session's queue was full (<c>mcp_proxy.session.notifications_dropped</c>).</summary>
    public long DroppedNotifications => Interlocked.Read(ref _dropped);

    /// <summary>The only connected session, when there is exactly one.</summary>
    public McpServer? SoleSession()
    {
        using var e = _sessions.Values.GetEnumerator();
        return e.MoveNext() && _sessions.Count == 1 ? e.Current.Server : null;
    }

    /// <summary>Runs one client session, keeping it in the set of live sessions while it runs.</summary>
    public async Task RunSessionAsync(McpServer server, ClaimsPrincipal? user, CancellationToken cancellationToken)
    {
        if (ModernEra.IsModern(server))
        {
            // A modern request's own server (no session id): no session to keep; its calls are tracked per call (BeginCall).
            await server.RunAsync(cancellationToken);
            return;
        }

        var session = new ClientSession(server, access.For(user), logger, n => Interlocked.Add(ref _dropped, n), user, time.GetTimestamp());
        _sessions[session.Id] = session;
        LevelsChanged();
        session.Start();
        try
        {
            await server.RunAsync(cancellationToken);
        }
        finally
        {
            _sessions.TryRemove(new KeyValuePair<string, ClientSession>(session.Id, session));
            LevelsChanged();
            foreach (var uri in session.Subscriptions.Keys)
            {
                if (_subscriptions.TryGetValue(uri, out var subscribers))
                {
                    subscribers.TryRemove(session, out _);
                }
            }

            session.Close();
            if (session.RequestedLogLevel is not null)
            {
                _ = PushLogLevelQuietlyAsync();
            }
        }
    }

    /// <summary>The live legacy session with this id on this instance, if any (the fast path serves its calls).</summary>
    public ClientSession? Live(string sessionId) => _sessions.GetValueOrDefault(sessionId);

    /// <summary>
    /// A log notification's params as <paramref name="session"/> receives it from <paramref name="backend"/> (the logger
    /// namespaced), or null when it is below the session's level.
    /// </summary>
    public JsonElement? LogFor(ClientSession session, string backend, JsonObject parameters) =>
        LevelOf(parameters["level"]) < session.MinimumLogLevel ? null : LogPayload(backend, parameters);

    /// <summary>Tells every session that the given lists changed.</summary>
    public void BroadcastListChanged(CatalogParts parts)
    {
        foreach (var session in _sessions.Values)
        {
            if (parts.HasFlag(CatalogParts.Tools))
            {
                session.Enqueue(session.Server, NotificationMethods.ToolListChangedNotification, null);
            }

            if (parts.HasFlag(CatalogParts.Prompts))
            {
                session.Enqueue(session.Server, NotificationMethods.PromptListChangedNotification, null);
            }

            if (parts.HasFlag(CatalogParts.Resources))
            {
                session.Enqueue(session.Server, NotificationMethods.ResourceListChangedNotification, null);
            }
        }
    }

    /// <summary>
    /// Starts a call to <paramref name="backend"/>: gives it the <c>_meta</c> the backend gets (<see cref="CallerMeta.Forwarded"/>),
    /// and when the caller asked for progress, a fresh unguessable progress token bound to that backend, whose progress
    /// is relayed back under the caller's own token until the returned scope is disposed.
    /// </summary>
    /// <remarks>
    /// A modern (2026-07-28) call has no session: it gets a <see cref="ClientSession"/> of its own for the length of the
    /// call, whose messages go out on the call's response stream only — its progress, and the backend's log messages
    /// only when its <c>_meta</c> asked a <c>logLevel</c>, at or above it. Its caller's access comes from
    /// <paramref name="user"/> and its log level from the request (<paramref name="jsonRpc"/>), never from an earlier request.
    /// </remarks>
    public CallScope BeginCall(McpServer caller, RequestParams request, BackendConnection backend, out JsonObject? meta, ClaimsPrincipal? user = null, JsonRpcRequest? jsonRpc = null)
    {
        var session = Find(caller);
        var modern = false;
        if (session is null && ModernEra.IsModern(caller))
        {
            session = new ClientSession(caller, access.For(user), logger, n => Interlocked.Add(ref _dropped, n))
            {
                RequestedLogLevel = ModernEra.RequestedLogLevel(jsonRpc, request.Meta),
            };
            session.Start();
            _modernCalls[session] = backend;
            modern = true;
        }

        meta = CallerMeta.Forwarded(request.Meta);
        var before = session?.Enqueued ?? 0;
        if (session is null || request.ProgressToken is not { } clientToken)
        {
            return new CallScope(this, session, null, before, modern);
        }

        var token = NewProgressToken();
        _progress[token] = new ProgressRoute(session, caller, clientToken, backend);
        (meta ??= [])["progressToken"] = token;
        return new CallScope(this, session, token, before, modern);
    }

    /// <summary>128 random bits: a backend or client cannot guess the token of another caller's call.</summary>
    private static string NewProgressToken() => "mcp-proxy-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    /// <summary>
    /// Called in the order a backend's messages are read, before the MCP client dispatches them (it dispatches
    /// concurrently): progress, log messages and resource updates are queued from here, so each session gets them in
    /// the order the backend sent them, and a call's log lines and progress are queued before its response is read
    /// (the call then waits for them: <see cref="CallScope.DrainAsync"/>).
    /// </summary>
    public void OnBackendMessageRead(BackendConnection backend, JsonRpcMessage message)
    {
        if (message is not JsonRpcNotification { Params: JsonObject parameters } notification)
        {
            return;
        }

        try
        {
            switch (notification.Method)
            {
                case NotificationMethods.ProgressNotification:
                    RelayProgress(backend, parameters);
                    break;
                case NotificationMethods.LoggingMessageNotification:
                    RelayLog(backend, parameters);
                    break;
                case NotificationMethods.ResourceUpdatedNotification:
                    RelayResourceUpdated(backend, parameters);
                    break;
            }
        }
        catch (Exception ex)
        {
            // Never break the backend's read loop over a malformed notification.
            LogRelayRejected(backend.Name, notification.Method, ex.Message);
        }
    }

    private void RelayProgress(BackendConnection backend, JsonObject parameters)
    {
        if (parameters["progressToken"] is not JsonValue tokenValue || !tokenValue.TryGetValue<string>(out var token)
            || !_progress.TryGetValue(token, out var route))
        {
            return;
        }

        if (!ReferenceEquals(route.Backend, backend))
        {
            LogForeignProgress(backend.Name, route.Backend.Name);
            return;
        }

        var p = (JsonObject)parameters.DeepClone();
        p["progressToken"] = JsonSerializer.SerializeToNode(route.ClientToken, McpJsonUtilities.DefaultOptions);
        route.Session.Enqueue(route.Caller, NotificationMethods.ProgressNotification, p);
    }

    /// <summary>To each session with a call in flight on the backend, whose caller may use it, at or above its level.</summary>
    private void RelayLog(BackendConnection backend, JsonObject parameters)
    {
        var level = LevelOf(parameters["level"]);
        JsonElement? payload = null;
        foreach (var caller in backend.ClientRequests.CallingSessions())
        {
            if (!_sessions.TryGetValue(caller.SessionId ?? "", out var session) || level < session.MinimumLogLevel || !MayUse(session, backend))
            {
                continue;
            }

            payload ??= LogPayload(backend.Name, parameters);
            session.Enqueue(caller, NotificationMethods.LoggingMessageNotification, JsonObject.Create(payload.Value));
        }

        // Modern calls on this backend whose request asked for logs (io.modelcontextprotocol/logLevel), at or above that level.
        foreach (var (call, target) in _modernCalls)
        {
            if (!ReferenceEquals(target, backend) || call.RequestedLogLevel is not { } wanted || level < wanted || !MayUse(call, backend))
            {
                continue;
            }

            payload ??= LogPayload(backend.Name, parameters);
            call.Enqueue(call.Server, NotificationMethods.LoggingMessageNotification, JsonObject.Create(payload.Value));
        }
    }

    private JsonElement LogPayload(string backend, JsonObject parameters)
    {
        var p = (JsonObject)parameters.DeepClone();
        p["logger"] = p["logger"] is JsonValue v && v.TryGetValue<string>(out var inner) ? catalog.Namespace(backend, inner) : backend;

        // One immutable copy shared by every recipient (each gets its own thin JsonObject over it).
        return JsonSerializer.SerializeToElement(p, McpJsonUtilities.DefaultOptions);
    }

    /// <summary>An unknown level counts as the least severe, so it never gets past a session's threshold.</summary>
    private static LoggingLevel LevelOf(JsonNode? level)
    {
        try
        {
            return level?.Deserialize<LoggingLevel>(McpJsonUtilities.DefaultOptions) ?? LoggingLevel.Debug;
        }
        catch (JsonException)
        {
            return LoggingLevel.Debug;
        }
    }

    /// <summary>To the sessions subscribed to the URI whose caller may use it, when the URI is this backend's and exposed.</summary>
    private void RelayResourceUpdated(BackendConnection backend, JsonObject parameters)
    {
        if (parameters["uri"] is not JsonValue uriValue || !uriValue.TryGetValue<string>(out var uri))
        {
            return;
        }

        // Subscriptions are kept under the normalized URI the policies checked (ProxyHandlers.ResolveResource), so the
        // backend's spelling is normalized the same way; a URI that cannot be normalized matches no subscription.
        if (!ResourceUri.TryNormalize(uri, out var normalized, out _))
        {
            return;
        }

        var namespaced = catalog.Namespace(backend.Name, normalized);
        if (!_subscriptions.TryGetValue(namespaced, out var subscribers) || subscribers.IsEmpty)
        {
            return;
        }

        // A backend cannot speak for another backend's resources (a namespaced = false backend could send a URI that
        // looks namespaced), nor for one its expose_resources/hide_resources keep from clients.
        if (!catalog.TrySplit(namespaced, out var route, out var original) || route.Backend.Name != backend.Name || !route.Resources.IsAllowed(original))
        {
            LogForeignResourceUpdate(backend.Name, namespaced);
            return;
        }

        JsonElement? payload = null;
        foreach (var session in subscribers.Keys)
        {
            if (session.Access?.CanUseResource(namespaced) != true)
            {
                continue;
            }

            if (payload is null)
            {
                var p = (JsonObject)parameters.DeepClone();
                p["uri"] = namespaced;
                payload = JsonSerializer.SerializeToElement(p, McpJsonUtilities.DefaultOptions);
            }

            session.Enqueue(session.Server, NotificationMethods.ResourceUpdatedNotification, JsonObject.Create(payload.Value));
        }
    }

    /// <summary>
    /// Whether the session's caller may use the backend: at least one of the backend's listed tools, prompts, resources
    /// or resource templates is allowed to it (always, without roles). Cached per catalog snapshot.
    /// </summary>
    private bool MayUse(ClientSession session, BackendConnection backend)
    {
        if (session.Access is not { } caller)
        {
            return false;
        }

        if (caller.IsUnrestricted)
        {
            return true;
        }

        var snapshot = catalog.Current;
        var cache = session.MayUse;
        if (cache is null || !ReferenceEquals(cache.Snapshot, snapshot))
        {
            session.MayUse = cache = new ClientSession.MayUseCache(snapshot);
        }

        return cache.Backends.GetOrAdd(backend, b =>
            snapshot.ToolsByName.Any(t => t.Value.Backend == b && caller.CanUseTool(t.Value.CanonicalName))
            || snapshot.PromptsByName.Any(p => p.Value.Backend == b && caller.CanUsePrompt(p.Value.CanonicalName))
            || snapshot.Resources.Any(r => Owns(b, r.Uri) && caller.CanUseResource(r.Uri))
            || snapshot.ResourceTemplates.Any(t => Owns(b, t.UriTemplate) && caller.CanUseResource(t.UriTemplate)));

        bool Owns(BackendConnection b, string uri) => catalog.TrySplit(uri, out var route, out _) && route.Backend == b;
    }

    public void Subscribe(McpServer caller, string namespacedUri)
    {
        if (Find(caller) is { } session)
        {
            _subscriptions.GetOrAdd(namespacedUri, _ => new()).TryAdd(session, 0);
            session.Subscriptions.TryAdd(namespacedUri, 0);
        }
    }

    /// <summary>Whether a legacy session is subscribed to the URI (its backend subscription is then in place).</summary>
    public bool HasSubscribers(string namespacedUri) => _subscriptions.TryGetValue(namespacedUri, out var subscribers) && !subscribers.IsEmpty;

    /// <summary>Removes a subscription; returns true when no session is subscribed to the URI any more.</summary>
    public bool Unsubscribe(McpServer caller, string namespacedUri)
    {
        var session = Find(caller);
        session?.Subscriptions.TryRemove(namespacedUri, out _);
        if (_subscriptions.TryGetValue(namespacedUri, out var subscribers))
        {
            if (session is not null)
            {
                subscribers.TryRemove(session, out _);
            }

            return subscribers.IsEmpty;
        }

        return true;
    }

    /// <summary>
    /// <c>logging/setLevel</c>: the level is the calling session's own — the proxy filters what it relays to that session
    /// by it. Backends are asked for the most verbose level any live session needs (<see cref="BackendLogLevel"/>), so no
    /// session's level can hide from another session what that one asked for.
    /// </summary>
    public async Task SetLogLevelAsync(McpServer caller, LoggingLevel level, CancellationToken cancellationToken)
    {
        if (Find(caller) is { } session)
        {
            session.RequestedLogLevel = level;
            LevelsChanged();
        }

        await PushLogLevelAsync(cancellationToken);
    }

    /// <summary>The level backends are asked for: the most verbose level of any live session (sessions that never set one count as info).</summary>
    /// <remarks>
    /// Read on every typed call to a modern backend (its <c>_meta</c> log level): kept, and recomputed over the sessions
    /// only after a session opened, closed or set its level (<see cref="LevelsChanged"/>), not per call.
    /// </remarks>
    public LoggingLevel BackendLogLevel
    {
        get
        {
            var version = Volatile.Read(ref _levelVersion);
            if (_backendLogLevel is { } kept && kept.Version == version)
            {
                return kept.Level;
            }

            var level = ClientSession.DefaultLogLevel;
            var any = false;
            foreach (var session in _sessions.Values)
            {
                level = !any || session.MinimumLogLevel < level ? session.MinimumLogLevel : level;
                any = true;
            }

            _backendLogLevel = new LevelSnapshot(version, level); // a change meanwhile moved the version: recomputed next time
            return level;
        }
    }

    private sealed record LevelSnapshot(long Version, LoggingLevel Level);

    private LevelSnapshot? _backendLogLevel;
    private long _levelVersion;

    private void LevelsChanged() => Interlocked.Increment(ref _levelVersion);

    private async Task PushLogLevelAsync(CancellationToken cancellationToken)
    {
        await _levelGate.WaitAsync(cancellationToken);
        try
        {
            var level = BackendLogLevel;
            if (level == _pushedLevel)
            {
                return;
            }

            var targets = catalog.Backends.Where(b => b.State == BackendState.Ready && !b.IsModern && b.Capabilities?.Logging is not null); // modern: _meta per request
            await Task.WhenAll(targets.Select(async b =>
            {
                try
                {
                    // Bounded by the backend's call timeout: a hung backend must not hold every session's setLevel.
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    timeout.CancelAfter(b.CallTimeout);
                    await b.GetClientOrThrow().SetLoggingLevelAsync(new SetLevelRequestParams { Level = level }, timeout.Token);
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
                {
                    // One backend refusing a log level must not fail the client's request.
                    LogSetLevelFailed(b.Name, ex.Message);
                }
            }));
            _pushedLevel = level;
        }
        finally
        {
            _levelGate.Release();
        }
    }

    private async Task PushLogLevelQuietlyAsync()
    {
        try
        {
            await PushLogLevelAsync(CancellationToken.None);
        }
        catch (Exception ex)
        {
            LogSetLevelFailed("*", ex.Message);
        }
    }

    /// <summary>The live session a request-bound server belongs to (calls of one session share its session id).</summary>
    private ClientSession? Find(McpServer caller) => _sessions.GetValueOrDefault(caller.SessionId ?? "");

    [LoggerMessage(Level = LogLevel.Warning, Message = "Backend '{Backend}' sent progress for a call that went to backend '{Owner}'; dropped")]
    private partial void LogForeignProgress(string backend, string owner);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Backend '{Backend}' sent resources/updated for '{Uri}', which is not one of its exposed resources; dropped")]
    private partial void LogForeignResourceUpdate(string backend, string uri);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Backend '{Backend}': {Method} not relayed: {Error}")]
    private partial void LogRelayRejected(string backend, string method, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Backend '{Backend}' refused logging/setLevel: {Error}")]
    private partial void LogSetLevelFailed(string backend, string error);

    /// <summary>Where a backend progress token goes: the call's session and request-bound server, and the backend it was given to.</summary>
    private sealed record ProgressRoute(ClientSession Session, McpServer Caller, ProgressToken ClientToken, BackendConnection Backend);

    internal readonly struct CallScope(SessionHub? hub, ClientSession? session, string? token, long enqueuedBefore, bool modern = false) : IDisposable
    {
        /// <summary>The caller's session, when it is tracked.</summary>
        public ClientSession? Session => session;

        /// <summary>How many messages had been queued for the session when the call began.</summary>
        public long EnqueuedBefore => enqueuedBefore;

        /// <summary>
        /// When anything was queued for the caller's session during the call (its progress, its backend's log lines),
        /// waits (briefly, at most <paramref name="limit"/>) until it has been sent, so the caller sees it before the result.
        /// </summary>
        public async ValueTask DrainAsync(TimeSpan limit)
        {
            if (session is not null && session.Enqueued != enqueuedBefore)
            {
                await session.DrainAsync(limit);
            }
        }

        public void Dispose()
        {
            if (hub is not null && token is not null)
            {
                hub._progress.TryRemove(token, out _);
            }

            // A modern call's own session ends with the call: nothing more goes out on its response stream.
            if (hub is not null && modern && session is not null)
            {
                hub._modernCalls.TryRemove(session, out _);
                session.Close();
            }
        }
    }
}
