using System.Text.Json;
using McpProxy.Configuration;

namespace McpProxy.Transport;

/// <summary>
/// The deprecated HTTP+SSE transport (protocol 2024-11-05) and what clients of it are told.
/// </summary>
/// <remarks>
/// <para>With <c>[proxy.listen] legacy_sse = true</c> the SDK serves it (<c>EnableLegacySse</c>) at
/// <c>{path}/sse</c> and <c>{path}/message</c>, behind the same endpoint conventions as the MCP endpoint (auth, RBAC in
/// the handlers, session caps, audit); <see cref="RootAliases"/> also answers the conventional root paths
/// <c>/sse</c> and <c>/message</c> by routing them there.</para>
/// <para><see cref="Explain"/>: a legacy client (or a plain GET) that reaches a path the proxy does not serve gets one
/// sentence saying the endpoint speaks Streamable HTTP, instead of an empty 404 or the SDK's own 400, which gives
/// C# configuration advice meant for the server's developer.</para>
/// </remarks>
internal static class LegacySse
{
    public const string SsePath = "/sse";
    public const string MessagePath = "/message";

    /// <summary>
    /// <c>/sse</c> and <c>/message</c> at the root are rewritten to <c>{path}/sse</c> and <c>{path}/message</c> (must
    /// run before routing). The SDK builds the message URL from the path it sees, so a client that opened
    /// <c>/sse</c> is told to POST to <c>{path}/message</c>.
    /// </summary>
    public static void RootAliases(this IApplicationBuilder app, ProxyConfig config)
    {
        var path = config.Proxy.Listen.Path.TrimEnd('/');
        if (!config.Proxy.Listen.LegacySse || path.Length == 0)
        {
            return;
        }

        app.Use((http, next) =>
        {
            if (http.Request.Path.Equals(SsePath, StringComparison.OrdinalIgnoreCase) || http.Request.Path.Equals(MessagePath, StringComparison.OrdinalIgnoreCase))
            {
                http.Request.Path = path + http.Request.Path;
            }

            return next(http);
        });
    }

    /// <summary>Answers, in one sentence, the requests a Streamable-HTTP-only endpoint cannot serve (after authorization).</summary>
    public static void Explain(this IApplicationBuilder app, ProxyConfig config)
    {
        var listen = config.Proxy.Listen;
        var path = listen.Path.TrimEnd('/');
        var mcp = path.Length == 0 ? "/" : path;
        string[] legacyPaths = [SsePath, MessagePath, path + SsePath, path + MessagePath];
        app.Use((http, next) =>
        {
            var request = http.Request;
            var legacyPath = IsLegacyPath(request.Path, legacyPaths);
            if (legacyPath && !listen.LegacySse)
            {
                return WriteAsync(http, StatusCodes.Status404NotFound,
                    $"This MCP endpoint speaks Streamable HTTP at {mcp} and does not serve the deprecated HTTP+SSE transport ({SsePath}, {MessagePath}): connect with a Streamable HTTP client.");
            }

            // (A modern client's GET is the SDK's to answer: 405, Allow: POST — README "Protocol eras".)
            if (HttpMethods.IsGet(request.Method) && request.Path.Equals(mcp, StringComparison.OrdinalIgnoreCase) && !request.Headers.ContainsKey("Mcp-Session-Id")
                && !Eras.ModernEra.IsModern(http))
            {
                return WriteAsync(http, StatusCodes.Status400BadRequest, listen.LegacySse
                    ? $"This MCP endpoint speaks Streamable HTTP: POST an initialize request to {mcp} first (clients of the deprecated HTTP+SSE transport connect to {path}{SsePath})."
                    : $"This MCP endpoint speaks Streamable HTTP: POST an initialize request to {mcp} first (the deprecated HTTP+SSE transport is not served here).");
            }

            return next(http);
        });
    }

    private static bool IsLegacyPath(PathString requestPath, string[] legacyPaths)
    {
        foreach (var legacyPath in legacyPaths)
        {
            if (requestPath.Equals(legacyPath, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static async Task WriteAsync(HttpContext http, int status, string message)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        await using var json = new Utf8JsonWriter(http.Response.Body);
        json.WriteStartObject();
        json.WriteString("jsonrpc", "2.0");
        json.WriteNull("id");
        json.WriteStartObject("error");
        json.WriteNumber("code", -32000);
        json.WriteString("message", message);
        json.WriteEndObject();
        json.WriteEndObject();
    }
}
