using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol;

namespace McpProxy.Calls;

/// <summary>A call's arguments as one JSON object (for the cache key and the audit line).</summary>
internal static class CallArguments
{
    public static JsonObject? ToNode(IDictionary<string, JsonElement>? arguments) =>
        arguments is null ? null : JsonSerializer.SerializeToNode(arguments, McpJsonUtilities.DefaultOptions) as JsonObject;
}
