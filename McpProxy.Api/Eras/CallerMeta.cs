using System.Text.Json.Nodes;

namespace McpProxy.Eras;

/// <summary>
/// What of a caller's <c>_meta</c> is the caller's own and goes on to a backend, on the typed path
/// (<c>Sessions.SessionHub.BeginCall</c>) and on the fast path (<c>Calls.RawCall</c>) alike.
/// </summary>
internal static class CallerMeta
{
    /// <summary>MCP's reserved <c>_meta</c> prefixes: any label of the prefix before <c>/</c> is <c>modelcontextprotocol</c> or <c>mcp</c>.</summary>
    public static bool IsReserved(string key)
    {
        var slash = key.IndexOf('/', StringComparison.Ordinal);
        return slash > 0 && key[..slash].Split('.').Any(label =>
            label.Equals("modelcontextprotocol", StringComparison.OrdinalIgnoreCase) || label.Equals("mcp", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>
    /// What a backend gets of the caller's <c>_meta</c>: a copy without <c>progressToken</c> (the proxy puts its own in
    /// when the caller asked for progress) and without the keys reserved for the protocol itself (a prefix with a
    /// <c>modelcontextprotocol</c> or <c>mcp</c> label, such as <c>io.modelcontextprotocol/related-task</c>): those
    /// belong to the client↔proxy hop, not to the backend. Other keys (application data, trace context) pass.
    /// </summary>
    public static JsonObject? Forwarded(JsonObject? meta)
    {
        if (meta is null)
        {
            return null;
        }

        var copy = new JsonObject();
        foreach (var (key, value) in meta)
        {
            if (key != "progressToken" && !IsReserved(key))
            {
                copy[key] = value?.DeepClone();
            }
        }

        return copy.Count == 0 ? null : copy;
    }
}
