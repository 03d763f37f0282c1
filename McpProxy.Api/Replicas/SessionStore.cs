using System.Collections.Concurrent;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using McpProxy.Caching;
using McpProxy.Configuration;
using McpProxy.Observability;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using StackExchange.Redis;

namespace McpProxy.Replicas;

/// <summary>
/// The legacy sessions every replica can continue, in Redis: per session a record (the client's initialize parameters,
/// a hash of the caller who created it, the replica that did) that expires after <c>[proxy.sessions]
/// idle_timeout_seconds</c> without a request on any replica, and a tombstone once the client ended it with DELETE.
/// Every Redis operation is bounded: while Redis cannot be reached a session lives on the replica that holds it only.
/// </summary>
internal sealed partial class SessionStore(RedisConnection connection, ResilientDistributedCache breaker, ReplicaInstance instance, ProxyConfig config, TimeProvider time, ILogger<SessionStore> logger)
{
    // Sessions ended on some replica (pub/sub or a tombstone read): answered 404 here without asking Redis again.
    private readonly ConcurrentDictionary<string, DateTimeOffset> _ended = new(StringComparer.Ordinal);

    // When this replica last pushed a session's expiry forward.
    private readonly ConcurrentDictionary<string, DateTimeOffset> _touched = new(StringComparer.Ordinal);

    public TimeSpan IdleTimeout { get; } = TimeSpan.FromSeconds(config.Proxy.Sessions.IdleTimeoutSeconds);

    /// <summary>How often one replica refreshes a session's expiry at most (a tenth of the idle timeout, at most 10 s).</summary>
    private TimeSpan TouchInterval => TimeSpan.FromTicks(Math.Min(TimeSpan.FromSeconds(10).Ticks, IdleTimeout.Ticks / 10));

    /// <summary>The caller a session is bound to, as stored: a hash of its <see cref="CallerIdentity"/>.</summary>
    public static string CallerHash(ClaimsPrincipal? user) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(CallerIdentity.Of(user))));

    public async ValueTask SaveAsync(string sessionId, InitializeRequestParams init, ClaimsPrincipal? user, CancellationToken cancellationToken)
    {
        var record = new JsonObject
        {
            ["init"] = JsonSerializer.SerializeToNode(init, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(InitializeRequestParams))),
            ["caller"] = CallerHash(user),
            ["createdBy"] = instance.Id,
        };
        await RunAsync("save", sessionId, db => db.StringSetAsync(ReplicaKeys.Session(sessionId), record.ToJsonString(), IdleTimeout), cancellationToken);
        _touched[sessionId] = time.GetUtcNow();
    }

    /// <summary>The session's initialize parameters when it exists, has not ended and belongs to this caller; null otherwise.</summary>
    public async ValueTask<InitializeRequestParams?> LoadAsync(string sessionId, ClaimsPrincipal? user, CancellationToken cancellationToken)
    {
        if (_ended.ContainsKey(sessionId))
        {
            return null;
        }

        var values = await RunAsync("load", sessionId, db => db.StringGetAsync([ReplicaKeys.Session(sessionId), ReplicaKeys.Ended(sessionId)]), cancellationToken);
        if (values is not [var record, var ended] || !ended.IsNull || record.IsNull)
        {
            return null;
        }

        var json = JsonNode.Parse((string)record!)!;
        if ((string?)json["caller"] != CallerHash(user))
        {
            LogOtherCaller(sessionId);
            return null;
        }

        LogMigrated(sessionId, (string?)json["createdBy"] ?? "?");
        _touched[sessionId] = time.GetUtcNow();
        return (InitializeRequestParams?)json["init"].Deserialize(McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(InitializeRequestParams)));
    }

    /// <summary>Whether the session was ended (DELETE) on any replica; also pushes its expiry forward (at most every <see cref="TouchInterval"/>).</summary>
    public async ValueTask<bool> IsEndedAsync(string sessionId, CancellationToken cancellationToken)
    {
        if (_ended.ContainsKey(sessionId))
        {
            return true;
        }

        var now = time.GetUtcNow();
        var touch = !_touched.TryGetValue(sessionId, out var last) || now - last >= TouchInterval;
        var ended = await RunAsync("check", sessionId, async db =>
        {
            var exists = db.KeyExistsAsync(ReplicaKeys.Ended(sessionId));
            if (touch)
            {
                await db.KeyExpireAsync(ReplicaKeys.Session(sessionId), IdleTimeout);
            }

            return await exists;
        }, cancellationToken);
        if (touch)
        {
            _touched[sessionId] = now;
        }

        if (ended)
        {
            MarkEnded(sessionId);
        }

        return ended;
    }

    /// <summary>Whether the session's record names this caller (a DELETE by anyone else leaves the session alone).</summary>
    public async ValueTask<bool> BelongsToAsync(string sessionId, ClaimsPrincipal? user, CancellationToken cancellationToken)
    {
        var record = await RunAsync("load", sessionId, db => db.StringGetAsync(ReplicaKeys.Session(sessionId)), cancellationToken);
        return !record.IsNull && (string?)JsonNode.Parse((string)record!)!["caller"] == CallerHash(user);
    }

    /// <summary>The client ended the session: the record goes, a tombstone stays for the idle timeout, every replica is told.</summary>
    public async ValueTask EndAsync(string sessionId, CancellationToken cancellationToken)
    {
        MarkEnded(sessionId);
        await RunAsync("end", sessionId, async db =>
        {
            var batch = db.CreateBatch();
            var set = batch.StringSetAsync(ReplicaKeys.Ended(sessionId), instance.Id, IdleTimeout);
            var delete = batch.KeyDeleteAsync(ReplicaKeys.Session(sessionId));
            var publish = batch.PublishAsync(RedisChannel.Literal(ReplicaKeys.EndedChannel), sessionId);
            batch.Execute();
            await Task.WhenAll(set, delete, publish);
            return true;
        }, cancellationToken);
        LogEnded(sessionId);
    }

    /// <summary>A tombstone announced by another replica (or found here).</summary>
    public void MarkEnded(string sessionId)
    {
        var now = time.GetUtcNow();
        _ended[sessionId] = now + IdleTimeout;
        _touched.TryRemove(sessionId, out _);
        if (_ended.Count > 10_000)
        {
            foreach (var (id, until) in _ended)
            {
                if (until < now)
                {
                    _ended.TryRemove(id, out _);
                }
            }
        }
    }

    private RedisSubscription? _subscription;

    /// <summary>This replica hears sessions ended elsewhere at once, now (tests wait on it).</summary>
    public bool Subscribed => _subscription?.IsLive == true;

    /// <summary>Subscribes to the tombstone channel; <paramref name="notYet"/> when Redis cannot be reached yet (it subscribes later by itself).</summary>
    public async Task SubscribeAsync(Action<Exception> notYet) =>
        _subscription = await connection.SubscribeAsync(RedisChannel.Literal(ReplicaKeys.EndedChannel), (_, id) =>
        {
            if (!id.IsNullOrEmpty)
            {
                MarkEnded(id!);
            }
        }, notYet);

    private async ValueTask<T?> RunAsync<T>(string operation, string sessionId, Func<IDatabase, Task<T>> action, CancellationToken cancellationToken)
    {
        // The cache's breaker guards every Redis use: while Redis is down a session lives on its replica only, and no
        // request waits on Redis again until the break has passed.
        try
        {
            return await breaker.RunAsync<T?>(async c =>
            {
                var multiplexer = await connection.GetAsync().WaitAsync(c);
                return await action(multiplexer.GetDatabase()).WaitAsync(c);
            }, default, cancellationToken);
        }
        catch (JsonException ex)
        {
            LogUnavailable(ex, operation, sessionId);
            return default;
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Legacy session {SessionId} (created by replica {CreatedBy}) continues on this replica")]
    private partial void LogMigrated(string sessionId, string createdBy);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Legacy session {SessionId} was presented by another caller than the one who created it: refused as not found")]
    private partial void LogOtherCaller(string sessionId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Legacy session {SessionId} ended on every replica (tombstone)")]
    private partial void LogEnded(string sessionId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis unavailable for the shared sessions ({Operation} of {SessionId}): the session lives on its replica only")]
    private partial void LogUnavailable(Exception exception, string operation, string sessionId);
}
