using System.Text.Json;
using McpProxy.Eras;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpProxy.Backends;

/// <summary>
/// The protocol era a backend is spoken to in. <c>protocol = "auto"</c> leaves <c>McpClientOptions.ProtocolVersion</c>
/// null: the SDK client probes with <c>server/discover</c> and falls back to <c>initialize</c> (bounded by
/// <c>discover_timeout_ms</c>); a pinned revision is both the requested and the minimum version, so the other era is
/// refused. The answer is a property of the connection: every reconnect (child restart, lost session) probes again.
/// </summary>
internal static class BackendEra
{
    /// <summary>The modern revision: per-request <c>_meta</c>, no session, no <c>initialize</c>.</summary>
    public const string Modern = ModernEra.Version;

    /// <summary>The newest initialize-handshake revision.</summary>
    public const string Legacy = "2025-11-25";

    /// <summary>Where a modern request carries the log level the server may emit at (there is no <c>logging/setLevel</c>).</summary>
    public const string LogLevelMetaKey = "io.modelcontextprotocol/logLevel";

    /// <summary>The version to request for a <c>protocol</c> setting: null for <c>auto</c> (probe).</summary>
    public static string? Requested(string protocol) => protocol is "auto" or "" ? null : protocol;

    /// <summary>Revisions are dates: the modern era is 2026-07-28 and later.</summary>
    public static bool IsModern(string? negotiated) => ModernEra.IsModernVersion(negotiated);

    /// <summary>
    /// A modern backend emits log notifications for a request only when its <c>_meta</c> names a level: the level the
    /// proxy wants (the most verbose any client session asked for; each session's own level is applied when relaying).
    /// </summary>
    public static void StampLogLevel(RequestParams request, LoggingLevel level)
    {
        request.Meta ??= [];
        request.Meta[LogLevelMetaKey] = JsonSerializer.SerializeToNode(level, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(LoggingLevel)));
    }
}
