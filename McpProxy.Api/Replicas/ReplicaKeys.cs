namespace McpProxy.Replicas;

/// <summary>The Redis keys and channels the replicas share (README "Replicas"); all start with <c>mcp-proxy:</c>.</summary>
internal static class ReplicaKeys
{
    /// <summary>A legacy session's record: the client's initialize parameters, the caller's hash, the replica that created it.</summary>
    public static string Session(string sessionId) => "mcp-proxy:session:" + sessionId;

    /// <summary>A legacy session ended by DELETE: refused on every replica while the key lives.</summary>
    public static string Ended(string sessionId) => "mcp-proxy:session-ended:" + sessionId;

    /// <summary>Announces a tombstone to the replicas that hold a copy of the session.</summary>
    public const string EndedChannel = "mcp-proxy:session-ended";

    /// <summary>The partition of a backend's fleet-wide rate limit (RedisRateLimiting stores it as <c>rl:fw:{…}</c>).</summary>
    public static string RateLimit(string backend) => "mcp-proxy:rl:" + backend;
}
