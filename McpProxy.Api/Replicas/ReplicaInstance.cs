using System.Security.Cryptography;

namespace McpProxy.Replicas;

/// <summary>
/// This replica: an id unique to the process (<c>{machine}-{pid}-{random}</c>) sent on every response as
/// <see cref="Header"/> and shown by <c>GET /admin/instance</c>, and whether legacy sessions migrate between replicas
/// (the proxy has the cache's Redis).
/// </summary>
internal sealed class ReplicaInstance
{
    /// <summary>The response header that names the replica that answered.</summary>
    public const string Header = "X-McpProxy-Instance";

    public ReplicaInstance(bool shared)
    {
        Shared = shared;
        Id = $"{Environment.MachineName}-{Environment.ProcessId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(2))}";
    }

    public string Id { get; }

    /// <summary>True when the replicas share Redis: legacy sessions, their SSE events and global rate limits live there.</summary>
    public bool Shared { get; }
}
