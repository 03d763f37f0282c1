using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace McpProxy.Mrtr;

/// <summary>
/// The parked exchanges of this replica (modern caller ↔ legacy backend), by exchange id: taken once by the retry that
/// answers them. The replica id names this process in the states it issues.
/// </summary>
internal sealed class BridgeRegistry
{
    private readonly ConcurrentDictionary<string, BridgeCall> _parked = new(StringComparer.Ordinal);

    /// <summary>This process, as bridge states name their owner.</summary>
    public string ReplicaId { get; } = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));

    public int Count => _parked.Count;

    public string Park(BridgeCall call)
    {
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        _parked[id] = call;
        return id;
    }

    /// <summary>Takes a parked exchange (single use); <see langword="null"/> when it is gone or was never here.</summary>
    public BridgeCall? TryTake(string id) => _parked.TryRemove(id, out var call) ? call : null;

    /// <summary>Drops a parked exchange that expired; false when a retry took it first.</summary>
    public bool TryRemove(string id, BridgeCall call) => _parked.TryRemove(new KeyValuePair<string, BridgeCall>(id, call));
}
