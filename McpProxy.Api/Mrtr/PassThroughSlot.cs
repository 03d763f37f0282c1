using System.Text.Json.Nodes;

namespace McpProxy.Mrtr;

/// <summary>
/// Where a modern backend's raw <c>input_required</c> result lands for a modern caller (pass-through): set for the
/// call's async flow (<see cref="Current"/>) before the backend request is sent, filled by the backend transport's tap
/// (<c>Backends.ObservedClientTransport</c>), which hands the MCP client an error with <see cref="CapturedCode"/>
/// instead, so that the client does not resolve the input requests itself.
/// </summary>
internal sealed class PassThroughSlot
{
    /// <summary>The proxy-internal error code the tap substitutes for a captured result.</summary>
    public const int CapturedCode = -31001; // outside -32000…-32099: not a backend failure for the resilience policies

    private static readonly AsyncLocal<PassThroughSlot?> s_current = new();

    public static PassThroughSlot? Current
    {
        get => s_current.Value;
        set => s_current.Value = value;
    }

    /// <summary>The captured <c>input_required</c> result, as the backend sent it.</summary>
    public JsonObject? Result { get; set; }

    public static bool IsInputRequired(JsonNode? result) =>
        result is JsonObject o && o["resultType"] is JsonValue v && v.TryGetValue<string>(out var type) && type == "input_required";
}
