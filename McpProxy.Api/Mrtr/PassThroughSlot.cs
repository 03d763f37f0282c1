using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpProxy.Mrtr;

/// <summary>
/// Where a modern backend's raw <c>input_required</c> result lands for a modern caller (pass-through). The call's
/// forwarded request carries the slot's id in <c>_meta</c> (<see cref="MetaKey"/>) — an async-local would not do: the
/// response cache may run the backend call on a flow of its own. The backend transport's tap
/// (<c>Backends.ObservedClientTransport</c>) takes the id out before the request is sent, and when the response is an
/// <c>input_required</c> result, puts it into the slot and hands the MCP client an error with <see cref="CapturedCode"/>
/// instead, so that the client does not resolve the input requests itself.
/// </summary>
internal sealed class PassThroughSlot
{
    /// <summary>The proxy-internal error code the tap substitutes for a captured result.</summary>
    public const int CapturedCode = -31001; // outside -32000…-32099: not a backend failure for the resilience policies

    /// <summary>The <c>_meta</c> key naming the slot on the forwarded request (removed before the backend sees it).</summary>
    public const string MetaKey = "mcp-proxy/input-required-slot";

    private static readonly ConcurrentDictionary<string, PassThroughSlot> s_slots = new(StringComparer.Ordinal);

    private PassThroughSlot(string id, string backend, ClientCapabilities? callerCapabilities)
    {
        Id = id;
        Backend = backend;
        CallerCapabilities = callerCapabilities;
    }

    /// <summary>
    /// The caller's own per-request capabilities: a modern backend gets them in place of the proxy's (which declare every
    /// kind of input the proxy can relay), so it asks only for the input this caller can give.
    /// </summary>
    public ClientCapabilities? CallerCapabilities { get; }

    public string Id { get; }

    /// <summary>The backend whose response the slot takes (a mirror of the request, sent elsewhere, is not captured).</summary>
    public string Backend { get; }

    /// <summary>The captured <c>input_required</c> result, as the backend sent it.</summary>
    public JsonObject? Result { get; set; }

    /// <summary>A new slot for a request to <paramref name="backend"/>, findable by its id until taken or <see cref="Release"/>d.</summary>
    public static PassThroughSlot Create(string backend, ClientCapabilities? callerCapabilities = null)
    {
        var slot = new PassThroughSlot(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)), backend, callerCapabilities);
        s_slots[slot.Id] = slot;
        return slot;
    }

    public void Release() => s_slots.TryRemove(Id, out _);

    /// <summary>
    /// The slot an outgoing request to <paramref name="backend"/> names in its <c>_meta</c>, if any (once: a slot is
    /// single-use); the key is removed from the request either way.
    /// </summary>
    public static PassThroughSlot? TakeFrom(JsonNode? parameters, string backend)
    {
        if (parameters is not JsonObject p || p["_meta"] is not JsonObject meta || !meta.Remove(MetaKey, out var id))
        {
            return null;
        }

        var slot = id is JsonValue v && v.TryGetValue<string>(out var text) && s_slots.TryGetValue(text, out var found) && found.Backend == backend
            && s_slots.TryRemove(new KeyValuePair<string, PassThroughSlot>(text, found))
            ? found
            : null;
        if (slot?.CallerCapabilities is { } capabilities && meta.ContainsKey(ProtocolVersionKey))
        {
            // A modern request (the client put its per-request _meta in): the caller's capabilities, not the proxy's.
            meta[CapabilitiesKey] = JsonSerializer.SerializeToNode(capabilities, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(ClientCapabilities)));
        }

        if (meta.Count == 0)
        {
            p.Remove("_meta");
        }

        return slot;
    }

    private const string ProtocolVersionKey = "io.modelcontextprotocol/protocolVersion";
    private const string CapabilitiesKey = "io.modelcontextprotocol/clientCapabilities";

    public static bool IsInputRequired(JsonNode? result) =>
        result is JsonObject o && o["resultType"] is JsonValue v && v.TryGetValue<string>(out var type) && type == "input_required";
}
