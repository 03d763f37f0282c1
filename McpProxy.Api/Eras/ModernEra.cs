using System.Text.Json.Nodes;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace McpProxy.Eras;

/// <summary>
/// The two protocol eras on one endpoint (README "Protocol eras"). A request is <em>modern</em> (2026-07-28 and later:
/// stateless, per-request <c>_meta</c>, no <c>Mcp-Session-Id</c>) when its <c>MCP-Protocol-Version</c> header says so —
/// exactly the test the SDK uses to pick its stateless path in <c>StatefulForInitializeClients</c> mode; everything else
/// is <em>legacy</em> (<c>initialize</c> + session). This folder sits low (it knows only the SDK): every concern asks it.
/// </summary>
internal static class ModernEra
{
    /// <summary>The first revision of the modern era.</summary>
    public const string Version = "2026-07-28";

    /// <summary>
    /// Every revision the proxy serves, modern first: what <c>server/discover</c> lists. The same set as the SDK's
    /// <c>-32022</c> data (a test compares them, so an SDK upgrade that adds a revision shows up).
    /// </summary>
    public static readonly string[] SupportedVersions = [Version, "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

    /// <summary>Whether a protocol version names the modern era (dates compare as text).</summary>
    public static bool IsModernVersion(string? version) =>
        version is { Length: 10 } && string.CompareOrdinal(version, Version) >= 0;

    /// <summary>Whether an HTTP request is a modern one (its <c>MCP-Protocol-Version</c> header).</summary>
    public static bool IsModern(HttpContext http) =>
        IsModernVersion(http.Request.Headers["MCP-Protocol-Version"].ToString().Trim());

    /// <summary>
    /// Whether a request-bound server serves a modern request: the SDK gives each modern request a server of its own
    /// with no session id (legacy Streamable HTTP and legacy SSE sessions always have one).
    /// </summary>
    public static bool IsModern(McpServer server) => string.IsNullOrEmpty(server.SessionId);

    /// <summary>
    /// The log level a modern request asked for in its <c>_meta</c> (<c>io.modelcontextprotocol/logLevel</c>); none
    /// means it gets no log messages at all (spec: "the server MUST NOT emit log notifications for the request").
    /// </summary>
    public static LoggingLevel? RequestedLogLevel(JsonRpcRequest? request, JsonObject? meta)
    {
        if (request?.Context?.LogLevel is { } level)
        {
            return level;
        }

        if (meta?[MetaKeys.LogLevel] is JsonValue value && value.TryGetValue<string>(out var text))
        {
            return text switch
            {
                "debug" => LoggingLevel.Debug,
                "info" => LoggingLevel.Info,
                "notice" => LoggingLevel.Notice,
                "warning" => LoggingLevel.Warning,
                "error" => LoggingLevel.Error,
                "critical" => LoggingLevel.Critical,
                "alert" => LoggingLevel.Alert,
                "emergency" => LoggingLevel.Emergency,
                _ => null,
            };
        }

        return null;
    }
}
