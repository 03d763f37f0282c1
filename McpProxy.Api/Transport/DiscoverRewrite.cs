using System.Text.Json.Nodes;
using McpProxy.Caching;
using McpProxy.Eras;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace McpProxy.Transport;

/// <summary>
/// <c>server/discover</c> is answered by the SDK itself (no handler hook): it lists only the modern revisions and marks
/// the result <c>ttlMs: 0, cacheScope: "private"</c>. This outgoing message filter rewrites that result: every revision
/// the endpoint serves, modern first (<see cref="ModernEra.SupportedVersions"/> — the set the SDK's <c>-32022</c> lists,
/// which clients compare), and the proxy's own caching hints (<see cref="CacheHints.DiscoverTtl"/>, <c>public</c>: the
/// capabilities, instructions and server info are the same for every caller). Capabilities, instructions and server
/// info stay the SDK's (the configured aggregate). The discover result is the only one with <c>supportedVersions</c>.
/// </summary>
internal static class DiscoverRewrite
{
    public static McpMessageFilter Filter() => next => (context, cancellationToken) =>
    {
        if (context.JsonRpcMessage is JsonRpcResponse { Result: JsonObject result } && result.ContainsKey("supportedVersions") && result.ContainsKey("capabilities"))
        {
            result["supportedVersions"] = new JsonArray([.. ModernEra.SupportedVersions.Select(v => (JsonNode)JsonValue.Create(v))]);
            result["ttlMs"] = (long)CacheHints.DiscoverTtl.TotalMilliseconds;
            result["cacheScope"] = "public";
        }

        return next(context, cancellationToken);
    };
}
