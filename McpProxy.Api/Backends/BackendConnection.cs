using System.Diagnostics;
using McpProxy.Configuration;
using McpProxy.Resilience;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpProxy.Backends;

/// <summary>
/// Backends: the live state of one <c>[[backends]]</c> entry (as YARP's <c>ClusterState</c>; its immutable part is the
/// <see cref="BackendModel"/> the registry built): one supervised MCP client. It connects (over the transport
/// <see cref="IBackendTransportFactory"/> builds), lists the backend's catalog (<see cref="BackendCatalogLoader"/>),
/// keeps it fresh on <c>list_changed</c>, reports through <see cref="BackendEvents"/>, and when the backend fails to
/// start or goes away it reports itself unavailable and reconnects with capped exponential backoff, so one bad backend
/// never takes the proxy down. It counts the calls in flight on it, so a hot reload can drain and then cut them.
/// </summary>
internal sealed partial class BackendConnection(
    BackendModel model,
    IBackendTransportFactory transports,
    BackendEvents events,
    ILoggerFactory loggerFactory,
    TimeProvider time) : IAsyncDisposable
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    /// <summary>How often a ready HTTP backend is pinged when nothing else says it is in trouble (<see cref="WatchAsync"/>).</summary>
    internal static readonly TimeSpan LivenessInterval = TimeSpan.FromSeconds(15);

    private readonly ILogger _logger = loggerFactory.CreateLogger("McpProxy.Backends");
    private readonly CancellationTokenSource _stopping = new();
    // Shutdown has begun (the drain): a backend lost from now on is not restarted (issue 12 point 7).
    private readonly CancellationTokenSource _noRestart = new();
    private readonly TaskCompletionSource _firstAttempt = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _supervisor;
    private volatile McpClient? _client;
    private volatile BackendWire? _wire;
    private long _fastPathCalls;
    private volatile BackendCatalog _catalog = BackendCatalog.Empty;
    private TaskCompletionSource<string> _transportFailure = NewSignal();
    private BackendListen? _listen;

    // Calls in flight on this connection (a hot reload drains them before disposing it) and what cuts the rest.
    private readonly Lock _callsGate = new();
    private readonly CancellationTokenSource _cut = new();
    private TaskCompletionSource? _idle;
    private int _inFlight;
    private volatile string? _cutReason;

    public string Name => model.Name;
    public BackendConfig Config => model.Config;

    /// <summary>The immutable part of this backend: config, call timeout, resilience pipeline, client-request relay.</summary>
    public BackendModel Model => model;
    public BackendState State { get; private set; } = BackendState.Connecting;
    /// <summary>The last failure in full, for the log only (it may hold stderr text, host:port, URLs).</summary>
    public string? LastError { get; private set; }

    /// <summary>The last failure as clients and <c>/admin/backends</c> see it: a generic reason (<see cref="BackendFailure.PublicReason"/>).</summary>
    public string? PublicError { get; private set; }
    public DateTimeOffset? ReadySince { get; private set; }
    public int Restarts { get; private set; }
    public BackendCatalog Catalog => _catalog;
    public ServerCapabilities? Capabilities => _client?.ServerCapabilities;

    /// <summary>
    /// The protocol revision this backend is spoken to in (<c>2026-07-28</c> or an initialize-era revision such as
    /// <c>2025-11-25</c>), as negotiated on the last connect: each connect probes anew (<see cref="BackendEra"/>), so
    /// a backend restarted into the other era is spoken to in its new one. Null before the first connect.
    /// </summary>
    public string? Era { get; private set; }

    /// <summary>The backend speaks the modern (2026-07-28) era: no session, no <c>logging/setLevel</c>, list changes on <c>subscriptions/listen</c>.</summary>
    public bool IsModern => BackendEra.IsModern(Era);

    /// <summary>
    /// The fast path's way to this backend (<see cref="BackendRawSend"/>): set while it is a ready modern-era HTTP backend
    /// with <c>fast_path</c> on; null otherwise (stdio, legacy era, not connected), and its calls take the typed path.
    /// </summary>
    /// <summary>Backend requests sent on the fast path since start (<c>/admin/backends</c> <c>fastPathCalls</c>).</summary>
    public long FastPathCalls => Interlocked.Read(ref _fastPathCalls);

    internal void CountFastPathCall() => Interlocked.Increment(ref _fastPathCalls);

    public BackendWire? FastWire => Config.FastPath && State == BackendState.Ready && IsModern ? _wire : null;

    /// <summary>Timeout applied to each call routed to this backend (<c>[backends.timeout] seconds</c>, default 30 s).</summary>
    public TimeSpan CallTimeout => model.CallTimeout;

    /// <summary>This backend's resilience pipeline (rate limit, retry, hedging, concurrency, breaker, ejection, timeout).</summary>
    public BackendResilience Resilience => model.Resilience;

    /// <summary>Sends a notification to the backend when it is connected; a failure is logged, never thrown.</summary>
    public async ValueTask NotifyAsync(string method, CancellationToken cancellationToken)
    {
        if (_client is { } client && State == BackendState.Ready)
        {
            try
            {
                await client.SendNotificationAsync(method, cancellationToken: cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogNotifyFailed(Name, method, ex.Message);
            }
        }
    }

    /// <summary>Relays this backend's sampling, elicitation and roots requests to the calling client.</summary>
    public ClientRequestRelay ClientRequests => model.ClientRequests;

    /// <summary>
    /// A call found the backend's session gone (HTTP 404 on a session request, per the Streamable HTTP spec): drop the
    /// client so the supervisor re-initializes a new session right away; calls in the gap fail fast.
    /// </summary>
    public void OnSessionLost(McpClient client, Exception error)
    {
        if (ReferenceEquals(_client, client))
        {
            LogSessionLost(Name, error.Message);
            State = BackendState.Unavailable;
            LastError = "session lost: " + error.Message;
            PublicError = "session lost";
            _ = DisposeQuietlyAsync(client);
        }
    }

    /// <summary>
    /// Shutdown has begun: calls in flight keep this connection, but if the backend goes away from now on (a child
    /// killed by a terminal's Ctrl-C, a backend stopping on its own) it is not restarted.
    /// </summary>
    public void BeginShutdown()
    {
        try
        {
            _noRestart.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // already stopped (a hot reload replaced it)
        }
    }

    /// <summary>Starts the supervisor; the returned task completes when the first connection attempt has succeeded or failed.</summary>
    public Task StartAsync()
    {
        _supervisor ??= Task.Run(() => SuperviseAsync(_stopping.Token));
        return _firstAttempt.Task;
    }

    /// <summary>The live client, or a clear protocol error naming the backend when it is not ready.</summary>
    public McpClient GetClientOrThrow()
    {
        if (_client is { } client && State == BackendState.Ready)
        {
            return client;
        }

        throw new BackendUnavailableException(UnavailableMessage);
    }

    /// <summary>Why calls to this backend fail right now: its state and the generic reason of its last failure.</summary>
    public string UnavailableMessage =>
        $"Backend '{Name}' is unavailable ({State.ToString().ToLowerInvariant()}{(PublicError is null ? "" : ": " + PublicError)}).";

    /// <summary>Calls in flight on this connection.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Cancelled when the calls still in flight are cut (<see cref="Cut"/>); every call links it.</summary>
    public CancellationToken CutToken => _cut.Token;

    /// <summary>Why the calls in flight were cut (a reload past its drain, the shutdown timeout); null until then.</summary>
    public string? CutReason => _cutReason;

    /// <summary>Counts a call on this connection until the scope is disposed.</summary>
    public CallScope BeginCall()
    {
        Interlocked.Increment(ref _inFlight);
        return new CallScope(this);
    }

    /// <summary>Cancels every call in flight on this connection; each fails with <paramref name="reason"/>.</summary>
    public void Cut(string reason)
    {
        _cutReason ??= reason;
        try
        {
            _cut.Cancel();
        }
        catch (AggregateException ex)
        {
            LogCutFailed(Name, ex.Message);
        }
    }

    /// <summary>Waits until no call is in flight on this connection, or <paramref name="timeout"/>; returns how many are left.</summary>
    public async Task<int> WhenIdleAsync(TimeSpan timeout)
    {
        Task idle;
        lock (_callsGate)
        {
            if (_inFlight == 0)
            {
                return 0;
            }

            _idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            idle = _idle.Task;
        }

        try
        {
            await idle.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
        }

        return InFlight;
    }

    /// <summary>
    /// Hot reload: this connection was replaced and gets no new calls. Its calls in flight may finish for up to
    /// <paramref name="drain"/>; those still running then are cut with "replaced by a config reload during the call";
    /// then it is disposed.
    /// </summary>
    public async Task RetireAsync(TimeSpan drain)
    {
        LogRetiring(Name, InFlight, drain.TotalSeconds);
        if (await WhenIdleAsync(drain) is > 0 and var left)
        {
            LogRetireCut(Name, left);
            Cut($"Backend '{Name}' was replaced by a config reload during the call (still running {drain.TotalSeconds:0.#} s after the reload, the [proxy] shutdown_timeout_seconds); retry it.");
            await WhenIdleAsync(CutGrace);
        }

        await DisposeAsync();
    }

    /// <summary>How long cut calls get to unwind (and answer their caller) before the connection is disposed.</summary>
    internal static readonly TimeSpan CutGrace = TimeSpan.FromSeconds(2);

    /// <summary>
    /// What to tell the caller when its call failed because the connection it used went away (the child exited, the
    /// HTTP connection closed) rather than because the backend answered an error; null when the connection is alive.
    /// </summary>
    public async ValueTask<string?> DescribeLossAsync(McpClient client)
    {
        ClientCompletionDetails details;
        try
        {
            // The transport fails pending calls as it closes; its completion follows at once.
            details = await client.Completion.WaitAsync(LossWait);
        }
        catch (TimeoutException)
        {
            return null;
        }

        return details is StdioClientCompletionDetails stdio
            ? $"Backend '{Name}' restarted during the call: the backend process exited{(stdio.ExitCode is { } code ? $" (code {code})" : "")}; retry it once it is back."
            : $"Backend '{Name}' restarted during the call: the connection to it closed; retry it once it is back.";
    }

    private static readonly TimeSpan LossWait = TimeSpan.FromSeconds(1);

    private void EndCall()
    {
        if (Interlocked.Decrement(ref _inFlight) == 0)
        {
            lock (_callsGate)
            {
                if (_inFlight == 0 && _idle is { } idle)
                {
                    _idle = null;
                    idle.TrySetResult();
                }
            }
        }
    }

    /// <summary>One call counted on a connection (<see cref="BeginCall"/>).</summary>
    public readonly struct CallScope(BackendConnection owner) : IDisposable
    {
        public void Dispose() => owner.EndCall();
    }

    private async Task SuperviseAsync(CancellationToken stopping)
    {
        var backoff = TimeSpan.FromSeconds(1);
        while (!stopping.IsCancellationRequested)
        {
            McpClient? client = null;
            try
            {
                State = BackendState.Connecting;
                (client, var wire) = await ConnectAsync(stopping);
                Interlocked.Exchange(ref _transportFailure, NewSignal());
                _client = client;
                Era = client.NegotiatedProtocolVersion;
                _wire = wire;
                if (IsModern)
                {
                    // List changes of a modern backend arrive only on a subscriptions/listen stream: opened (and
                    // acknowledged) before the catalog is listed, so no change between the two is missed.
                    _listen = new BackendListen(this, client, _resourceSubscriptions, loggerFactory.CreateLogger("McpProxy.Backends"), time);
                    await _listen.StartAsync(CallTimeout, stopping);
                }

                _catalog = await BackendCatalogLoader.LoadAsync(client, CatalogParts.All, BackendCatalog.Empty, stopping);

                // Routing first, then ready: a call in between is routed and told "unavailable, retry" (the backend
                // is not ready yet), never "unknown tool" (its items not yet in the catalog of a ready backend).
                events.OnCatalogChanged(this, CatalogParts.All);
                State = BackendState.Ready;
                ReadySince = DateTimeOffset.UtcNow;
                LastError = null;
                PublicError = null;
                LogBackendReady(Name, _catalog.Tools.Count, _catalog.Prompts.Count, _catalog.Resources.Count, _catalog.ResourceTemplates.Count, Era ?? "unknown");
                events.OnReady(this);
                _firstAttempt.TrySetResult();

                LastError = await WatchAsync(client, stopping);
                PublicError = client.Completion.IsCompletedSuccessfully && client.Completion.Result is StdioClientCompletionDetails { ExitCode: { } exitCode }
                    ? $"process exited with code {exitCode}"
                    : client.Completion.IsCompleted ? "connection closed" : "backend not answering";
                LogBackendLost(Name, LastError);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                LastError = Describe(ex);
                PublicError = BackendFailure.PublicReason(ex) is var reason && Config.Transport == BackendTransport.Stdio && reason == "connection closed"
                    ? "process exited during initialize"
                    : reason;
                LogBackendFailed(Name, LastError);
            }

            State = BackendState.Unavailable;
            _client = null;
            _wire = null;
            if (Interlocked.Exchange(ref _listen, null) is { } listen)
            {
                await listen.DisposeAsync();
            }

            _firstAttempt.TrySetResult();
            if (!ReferenceEquals(_catalog, BackendCatalog.Empty))
            {
                _catalog = BackendCatalog.Empty;
                events.OnCatalogChanged(this, CatalogParts.All);
            }

            if (client is not null)
            {
                await DisposeQuietlyAsync(client);
            }

            // A backend that stayed up a while restarts quickly; one that keeps failing backs off up to MaxBackoff.
            if (ReadySince is { } since && DateTimeOffset.UtcNow - since > MaxBackoff)
            {
                backoff = TimeSpan.FromSeconds(1);
            }

            ReadySince = null;
            try
            {
                // Shutdown began (before or during the backoff): no restart.
                using var restartWait = CancellationTokenSource.CreateLinkedTokenSource(stopping, _noRestart.Token);
                await Task.Delay(backoff, restartWait.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
            Restarts++;
        }

        State = BackendState.Stopped;
        _firstAttempt.TrySetResult();
    }

    /// <summary>
    /// Waits until the backend's session is gone and says why. A stdio backend's client completes when the child exits.
    /// A Streamable HTTP client may never complete when its server dies, so an HTTP backend is pinged whenever its
    /// session sees a transport failure (<see cref="TransportFailureHandler"/>: connection refused or reset, a gateway's
    /// 502/503/504) and every <see cref="LivenessInterval"/> otherwise; a ping that fails or gets no answer within the
    /// call timeout means the backend is gone: it is then handled exactly as a crashed child (unavailable, its items
    /// withdrawn with <c>list_changed</c>, reconnected with backoff).
    /// </summary>
    private async Task<string> WatchAsync(McpClient client, CancellationToken stopping)
    {
        if (Config.Transport == BackendTransport.Stdio)
        {
            return DescribeCompletion(await client.Completion.WaitAsync(stopping));
        }

        while (true)
        {
            var failure = Volatile.Read(ref _transportFailure).Task;
            using (var wake = CancellationTokenSource.CreateLinkedTokenSource(stopping))
            {
                var interval = Task.Delay(LivenessInterval, time, wake.Token);
                var first = await Task.WhenAny(client.Completion, failure, interval);
                await wake.CancelAsync();
                stopping.ThrowIfCancellationRequested();
                if (first == client.Completion)
                {
                    return DescribeCompletion(await client.Completion);
                }
            }

            Interlocked.Exchange(ref _transportFailure, NewSignal());
            if (await ProbeAsync(client, stopping) is { } error)
            {
                return failure.IsCompleted ? $"unreachable ({failure.Result}); ping failed: {error}" : $"ping failed: {error}";
            }
        }
    }

    /// <summary>Pings the backend (a modern one: <c>server/discover</c>): null when it answered (an error answer included), else why not.</summary>
    private async Task<string?> ProbeAsync(McpClient client, CancellationToken stopping)
    {
        using var timeout = new CancellationTokenSource(CallTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, timeout.Token);
        try
        {
            if (BackendEra.IsModern(client.NegotiatedProtocolVersion))
            {
                // ping is gone in 2026-07-28: server/discover is the one request every modern server answers.
                await client.SendRequestAsync(new JsonRpcRequest { Method = RequestMethods.ServerDiscover, Params = new System.Text.Json.Nodes.JsonObject() }, linked.Token);
            }
            else
            {
                await client.PingAsync(cancellationToken: linked.Token);
            }

            return null;
        }
        catch (McpProtocolException)
        {
            return null; // it answered
        }
        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
        {
            return $"no answer within {CallTimeout.TotalSeconds:0.#} s";
        }
        catch (Exception ex) when (!stopping.IsCancellationRequested)
        {
            return Describe(ex);
        }
    }

    private static TaskCompletionSource<string> NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private void OnTransportFailure(string error) => Volatile.Read(ref _transportFailure).TrySetResult(error);

    /// <returns>The connected client, and for an HTTP backend the fast path's way to the same endpoint.</returns>
    private async Task<(McpClient Client, BackendWire? Wire)> ConnectAsync(CancellationToken cancellationToken)
    {
        // Every message is seen in read order before the client dispatches it (progress before its result).
        var created = await transports.CreateAsync(model, OnTransportFailure, cancellationToken);
        IClientTransport transport = new ObservedClientTransport(
            created,
            message => events.OnMessageRead(this, message),
            Name);

        var options = new McpClientOptions
        {
            ClientInfo = new Implementation { Name = "mcp-proxy", Version = typeof(BackendConnection).Assembly.GetName().Version?.ToString() ?? "0.1.0" },
            InitializationTimeout = CallTimeout,
            // protocol = "auto": null = probe with server/discover, fall back to initialize (the SDK does both). A pinned
            // revision is also the minimum the client accepts: the other era is refused, never fallen back to.
            ProtocolVersion = BackendEra.Requested(Config.Protocol),
            DiscoverProbeTimeout = TimeSpan.FromMilliseconds(Config.DiscoverTimeoutMs),
            Handlers = new McpClientHandlers
            {
                // Server→client requests go to the client whose call the backend is working on (ClientRequestRelay).
                SamplingHandler = (request, _, ct) => ClientRequests.SampleAsync(request, ct),
                ElicitationHandler = ClientRequests.ElicitAsync,
                RootsHandler = ClientRequests.ListRootsAsync,
                // list_changed re-lists that part. Progress, log messages and resources/updated are relayed in read
                // order from BackendEvents.MessageRead.
                NotificationHandlers = [
                    .. BackendCatalogLoader.ListChangedHandlers(RefreshAsync),
                    new(NotificationMethods.SubscriptionsAcknowledgedNotification, (notification, ct) => _listen?.OnAcknowledged(notification, ct) ?? ValueTask.CompletedTask),
                ],
            },
        };

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(CallTimeout);
        try
        {
            var client = await McpClient.CreateAsync(transport, options, loggerFactory, timeout.Token);
            // logging/setLevel is gone in 2026-07-28: a modern backend gets the level in each request's _meta (BackendEra.StampLogLevel).
            if (!BackendEra.IsModern(client.NegotiatedProtocolVersion) && client.ServerCapabilities.Logging is not null)
            {
                // The level the live client sessions need (each session's own level is applied by the proxy).
                try
                {
                    await client.SetLoggingLevelAsync(new SetLevelRequestParams { Level = events.CurrentLogLevel }, timeout.Token);
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
                {
                    LogNotifyFailed(Name, RequestMethods.LoggingSetLevel, ex.Message);
                }
                catch
                {
                    await DisposeQuietlyAsync(client);
                    throw;
                }
            }

            return (client, (created as WiredHttpTransport)?.Wire);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"initialize did not complete within {CallTimeout.TotalSeconds:0.#} s");
        }
    }

    /// <summary>The log level backends are asked for (the most verbose any live client session wants).</summary>
    internal LoggingLevel WantedLogLevel => events.CurrentLogLevel;

    /// <summary>
    /// A notification the backend sent on a fast-path call's response stream, which no MCP client reads: handled as the
    /// client would have — seen in read order (<see cref="BackendEvents.MessageRead"/>: resources/updated, log lines and
    /// progress relayed), and a list change re-lists its part (not awaited, as the client dispatches its handlers).
    /// </summary>
    internal void OnFastPathNotification(JsonRpcNotification notification)
    {
        events.OnMessageRead(this, notification);
        foreach (var (method, handler) in BackendCatalogLoader.ListChangedHandlers(RefreshAsync))
        {
            if (method == notification.Method)
            {
                _ = handler(notification, CancellationToken.None).AsTask();
            }
        }
    }

    /// <summary>Re-lists these parts of the catalog (a list change, or a re-opened listen stream that may have missed one).</summary>
    internal ValueTask RefreshCatalogAsync(CatalogParts parts, CancellationToken cancellationToken) => RefreshAsync(parts, cancellationToken);

    // The backend URIs clients are subscribed to: a modern backend's listen stream carries them as its resourceSubscriptions.
    private readonly ResourceSubscriptionSet _resourceSubscriptions = new();

    /// <summary>
    /// <c>resources/subscribe</c> for this backend: a legacy backend gets the request; a modern one has no such method,
    /// so the URI joins its listen stream's <c>resourceSubscriptions</c> and the stream is re-opened with it.
    /// </summary>
    public async ValueTask SubscribeResourceAsync(McpClient client, string uri, bool subscribe, CancellationToken cancellationToken)
    {
        if (!BackendEra.IsModern(client.NegotiatedProtocolVersion))
        {
            if (subscribe)
            {
                await client.SubscribeToResourceAsync(new SubscribeRequestParams { Uri = uri }, cancellationToken);
            }
            else
            {
                await client.UnsubscribeFromResourceAsync(new UnsubscribeRequestParams { Uri = uri }, cancellationToken);
            }

            return;
        }

        if (_resourceSubscriptions.Change(uri, subscribe) && _listen is { } listen)
        {
            await listen.ReopenAsync(cancellationToken);
        }
    }

    private async ValueTask RefreshAsync(CatalogParts parts, CancellationToken cancellationToken)
    {
        if (_client is not { } client)
        {
            return;
        }

        try
        {
            _catalog = await BackendCatalogLoader.LoadAsync(client, parts, _catalog, cancellationToken);
            LogCatalogRefreshed(Name, parts.ToString());
            events.OnCatalogChanged(this, parts);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogRefreshFailed(Name, Describe(ex));
        }
    }

    private static string DescribeCompletion(ClientCompletionDetails details) => details switch
    {
        StdioClientCompletionDetails { ExitCode: { } code } => $"process exited with code {code}" + (details.Exception is { } e ? $": {e.Message}" : ""),
        _ when details.Exception is { } e => "connection closed: " + e.Message,
        _ => "connection closed",
    };

    private static string Describe(Exception ex) => ex switch
    {
        McpProtocolException p => $"{p.Message} (code {(int)p.ErrorCode})",
        _ when ex.InnerException is { } inner && ex is not TimeoutException => $"{ex.Message} ({inner.Message})",
        _ => ex.Message,
    };

    private async ValueTask DisposeQuietlyAsync(McpClient client)
    {
        try
        {
            await client.DisposeAsync();
        }
        catch (Exception ex)
        {
            LogDisposeFailed(Name, ex.Message);
        }
    }

    /// <summary>Stops the connection; safe to call more than once and concurrently (a retiring connection and shutdown).</summary>
    public ValueTask DisposeAsync()
    {
        lock (_callsGate)
        {
            _disposal ??= Task.Run(DisposeCoreAsync);
        }

        return new ValueTask(_disposal);
    }

    private Task? _disposal;

    private async Task DisposeCoreAsync()
    {
        await _stopping.CancelAsync();
        if (_supervisor is not null)
        {
            try
            {
                await _supervisor;
            }
            catch (Exception ex)
            {
                Debug.Fail(ex.ToString());
            }
        }

        if (Interlocked.Exchange(ref _listen, null) is { } listen)
        {
            await listen.DisposeAsync();
        }

        if (_client is { } client)
        {
            _client = null;
            _wire = null;
            await DisposeQuietlyAsync(client);
        }

        State = BackendState.Stopped;
        model.Dispose(); // the resilience pipeline's rate limiter timer
        _stopping.Dispose();
        _noRestart.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Backend '{Backend}' ready: {Tools} tools, {Prompts} prompts, {Resources} resources, {Templates} resource templates (protocol {Protocol})")]
    private partial void LogBackendReady(string backend, int tools, int prompts, int resources, int templates, string protocol);

    // Warning, not error: the backend is retried with backoff (an HTTP backend that starts after the proxy, one that is down).
    [LoggerMessage(Level = LogLevel.Warning, Message = "Backend '{Backend}' failed to start: {Error}; retrying with backoff")]
    private partial void LogBackendFailed(string backend, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Backend '{Backend}': {Method} not delivered: {Error}")]
    private partial void LogNotifyFailed(string backend, string method, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Backend '{Backend}' lost its session: {Error}; re-initializing")]
    private partial void LogSessionLost(string backend, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Backend '{Backend}' went away: {Error}; reconnecting")]
    private partial void LogBackendLost(string backend, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Backend '{Backend}' refreshed {Parts}")]
    private partial void LogCatalogRefreshed(string backend, string parts);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Backend '{Backend}' catalog refresh failed: {Error}")]
    private partial void LogRefreshFailed(string backend, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Backend '{Backend}' replaced by a config reload: draining {InFlight} calls in flight for up to {Seconds} s")]
    private partial void LogRetiring(string backend, int inFlight, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Backend '{Backend}' replaced by a config reload: {Left} calls still in flight after the drain timeout are cut")]
    private partial void LogRetireCut(string backend, int left);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Backend '{Backend}': cutting its calls failed: {Error}")]
    private partial void LogCutFailed(string backend, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Backend '{Backend}' dispose failed: {Error}")]
    private partial void LogDisposeFailed(string backend, string error);
}
