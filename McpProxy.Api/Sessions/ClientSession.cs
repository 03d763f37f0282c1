using System.Collections.Concurrent;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using McpProxy.Backends;
using McpProxy.Routing;
using McpProxy.Security;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace McpProxy.Sessions;

/// <summary>
/// One live client session as the proxy sees it: what its caller may use (fixed for the session: the SDK binds a
/// session to the user who opened it), the log level it asked for, the URIs it subscribed to, and its outbound queue.
/// </summary>
/// <remarks>
/// Everything the proxy relays to a session (list_changed, progress, resources/updated, log messages) goes through one
/// bounded queue per session with one pump that sends the messages in order: a session that does not read cannot make
/// the proxy hold more than <see cref="OutboxCapacity"/> messages for it. When the queue is full the oldest queued
/// message is dropped (newer progress and log lines are worth more than older ones) and counted.
/// </remarks>
internal sealed partial class ClientSession
{
    /// <summary>Messages queued for one session at most (README: Security).</summary>
    public const int OutboxCapacity = 1000;

    /// <summary>The level a session that never sent <c>logging/setLevel</c> receives (and above).</summary>
    public const LoggingLevel DefaultLogLevel = LoggingLevel.Info;

    private readonly Channel<Outgoing> _outbox;
    private readonly CancellationTokenSource _closing = new();
    private readonly Action<long> _onDropped;
    private readonly ILogger _logger;
    private long _enqueued;
    private long _dropped;
    private int _level = -1;

    public ClientSession(McpServer server, CallerAccess? access, ILogger logger, Action<long> onDropped, ClaimsPrincipal? owner = null, long openedAt = 0)
    {
        Server = server;
        Access = access;
        Owner = SessionOwner.Of(owner);
        _typedAt = openedAt;
        _logger = logger;
        _onDropped = onDropped;
        _outbox = Channel.CreateBounded<Outgoing>(
            new BoundedChannelOptions(OutboxCapacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            OnDropped);
    }

    /// <summary>The session-level server (its messages go out on the session's GET stream).</summary>
    public McpServer Server { get; }

    public string Id => Server.SessionId ?? "";

    /// <summary>Who opened the session, as the SDK binds a session to its user (only that user's requests may use it).</summary>
    public SessionOwner Owner { get; }

    /// <summary>What the caller may use; <see langword="null"/> when it maps to no role (it then receives nothing RBAC guards).</summary>
    public CallerAccess? Access { get; }

    /// <summary>The URIs this session is subscribed to (namespaced).</summary>
    public ConcurrentDictionary<string, byte> Subscriptions { get; } = new(StringComparer.Ordinal);

    /// <summary>Per catalog snapshot, whether the caller may use at least one item of a backend (see SessionHub.MayUse).</summary>
    public MayUseCache? MayUse { get; set; }

    /// <summary>The level this session asked for with <c>logging/setLevel</c>, if it did.</summary>
    public LoggingLevel? RequestedLogLevel
    {
        get => Volatile.Read(ref _level) is var l and >= 0 ? (LoggingLevel)l : null;
        set => Volatile.Write(ref _level, value is { } v ? (int)v : -1);
    }

    /// <summary>The least severe level this session receives.</summary>
    public LoggingLevel MinimumLogLevel => RequestedLogLevel ?? DefaultLogLevel;

    /// <summary>Messages ever queued for this session (a call compares it before and after to know whether to drain).</summary>
    public long Enqueued => Interlocked.Read(ref _enqueued);

    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>The client capabilities the session declared at <c>initialize</c>, as JSON (what its calls declare to a modern backend).</summary>
    public ReadOnlyMemory<byte> CapabilitiesJson => _capabilities ??= JsonSerializer.SerializeToUtf8Bytes(
        Server.ClientCapabilities ?? new ClientCapabilities(), McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(ClientCapabilities)));

    private byte[]? _capabilities;
    private long _typedAt;

    /// <summary>
    /// Whether this request of the session must take the typed path so that the SDK sees the session in use (the fast
    /// path answers around the SDK, whose idle timer only its own requests reset): true at most once per
    /// <paramref name="every"/> (by the <see cref="TimeProvider"/> timestamp <paramref name="now"/>), and then the turn is taken.
    /// </summary>
    public bool TakesTypedTurn(long now, long every)
    {
        var last = Interlocked.Read(ref _typedAt);
        return now - last >= every && Interlocked.CompareExchange(ref _typedAt, now, last) == last;
    }

    /// <summary>
    /// How often a session busy on the fast path sends one request through the SDK's own handling, for the SDK's idle
    /// timer: a tenth of the idle timeout, at most 10 s. The SDK's timeout is this much longer than the configured one, so
    /// a session is never closed while it is used, and an unused one closes at most this much after the configured timeout.
    /// </summary>
    public static TimeSpan TypedTurnEvery(TimeSpan idleTimeout) => TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(10).Ticks, idleTimeout.Ticks / 10));

    private ConcurrentDictionary<RequestId, CancellationTokenSource>? _fastCalls;
    private volatile bool _ended;

    /// <summary>
    /// Its owner asked to end it (<c>DELETE</c>), or it closed: from then on the SDK answers its requests (the fast path
    /// no longer does), so none is served after the owner ended it.
    /// </summary>
    public bool Ended => _ended;

    /// <summary>Cancelled when the session closes.</summary>
    public CancellationToken Closing => _closing.Token;

    /// <summary>Marks the session ended for the fast path (<see cref="Ended"/>).</summary>
    public void End() => _ended = true;

    /// <summary>
    /// A call of this session answered on the fast path, which the SDK does not see: a <c>notifications/cancelled</c>
    /// for its id (which the SDK does see, <see cref="FastCallCancel"/>) cancels <paramref name="call"/>.
    /// </summary>
    public void BeginFastCall(RequestId id, CancellationTokenSource call) =>
        LazyInitializer.EnsureInitialized(ref _fastCalls, () => new ConcurrentDictionary<RequestId, CancellationTokenSource>())[id] = call;

    public void EndFastCall(RequestId id, CancellationTokenSource call) => _fastCalls?.TryRemove(KeyValuePair.Create(id, call));

    /// <summary>Cancels the session's fast-path call with this id, if one is in flight.</summary>
    public void CancelFastCall(RequestId id)
    {
        if (_fastCalls?.TryGetValue(id, out var call) == true)
        {
            try
            {
                call.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // it ended meanwhile
            }
        }
    }

    /// <summary>Starts the pump; it runs until <see cref="Close"/>.</summary>
    public void Start() => _ = Task.Run(PumpAsync);

    /// <summary>
    /// Queues a notification for this session, to be sent through <paramref name="target"/> (the session-level server,
    /// or the request-bound server of one of its calls, so it goes out on that call's response stream while it is
    /// open). Never blocks: a full queue drops its oldest message.
    /// </summary>
    public void Enqueue(McpServer target, string method, JsonNode? parameters)
    {
        Interlocked.Increment(ref _enqueued);
        _outbox.Writer.TryWrite(new Outgoing(target, method, parameters, null));
    }

    /// <summary>Waits (at most <paramref name="limit"/>) until every message queued so far has been sent or dropped.</summary>
    public async ValueTask DrainAsync(TimeSpan limit)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_outbox.Writer.TryWrite(new Outgoing(null, null, null, done)))
        {
            return;
        }

        try
        {
            await done.Task.WaitAsync(limit);
        }
        catch (TimeoutException)
        {
        }
    }

    /// <summary>
    /// The session ended: stop the pump (a send blocked on a client that does not read is cancelled). Not awaited, so
    /// ending a session never waits on a transport; the token source is left to the GC (it holds no timer) because the
    /// pump may still be unwinding with its token.
    /// </summary>
    public void Close()
    {
        _ended = true;
        _outbox.Writer.TryComplete();
        _closing.Cancel();
    }

    private async Task PumpAsync()
    {
        var ct = _closing.Token;
        try
        {
            await foreach (var item in _outbox.Reader.ReadAllAsync(ct))
            {
                if (item.Method is { } method)
                {
                    try
                    {
                        await item.Target!.SendMessageAsync(new JsonRpcNotification { Method = method, Params = item.Parameters }, ct);
                    }
                    catch (Exception ex) when (!ct.IsCancellationRequested)
                    {
                        LogRelayFailed(method, ex.Message);
                    }
                }

                item.Done?.TrySetResult();
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        finally
        {
            while (_outbox.Reader.TryRead(out var left))
            {
                left.Done?.TrySetResult();
            }
        }
    }

    private void OnDropped(Outgoing item)
    {
        item.Done?.TrySetResult();
        CountDropped(1, item.Method ?? "(drain marker)");
    }

    /// <summary>
    /// Counts messages dropped for this session: by its queue, or (the fast path's calls) log lines past a call's share
    /// of the same bound (<see cref="OutboxCapacity"/>).
    /// </summary>
    public void CountDropped(long count, string method)
    {
        var before = Interlocked.Add(ref _dropped, count) - count;
        _onDropped(count);

        var dropped = before + count;
        if (before == 0 || dropped / OutboxCapacity != before / OutboxCapacity)
        {
            LogDropped(Id, OutboxCapacity, method, dropped);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Relaying {Method} to a client session failed: {Error}")]
    private partial void LogRelayFailed(string method, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Client session {Session} reads slower than its notifications arrive: its queue is full ({Capacity}); dropped the oldest ({Method}); {Dropped} dropped so far")]
    private partial void LogDropped(string session, int capacity, string method, long dropped);

    /// <summary>A queued notification, or (no method) a drain marker.</summary>
    private readonly record struct Outgoing(McpServer? Target, string? Method, JsonNode? Parameters, TaskCompletionSource? Done);

    /// <summary>For one catalog snapshot: backend → may the caller use at least one of its items.</summary>
    internal sealed class MayUseCache(CatalogSnapshot snapshot)
    {
        public CatalogSnapshot Snapshot { get; } = snapshot;
        public ConcurrentDictionary<BackendConnection, bool> Backends { get; } = new();
    }
}
