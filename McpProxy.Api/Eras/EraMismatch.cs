using System.Text.Json;

namespace McpProxy.Eras;

/// <summary>
/// The one header/body mismatch the SDK does not answer with <c>-32020</c>: a POST whose <c>MCP-Protocol-Version</c>
/// header is legacy (or absent) while its <c>_meta</c> names the modern era. The SDK takes it down its legacy path and,
/// with no session, answers <c>-32000</c> "a new session can only be created by an initialize request". Only POSTs
/// without <c>Mcp-Session-Id</c> are read (the ones that would start a session): a session's requests, the hot path, are
/// never buffered. The body is read within <c>[security] max_request_body</c> (RequestGuard runs first) and rewound.
/// </summary>
internal static class EraMismatch
{
    private const string MetaVersionKey = "io.modelcontextprotocol/protocolVersion";

    public static IApplicationBuilder UseEraMismatchCheck(this IApplicationBuilder app, string mcpPath) =>
        app.Use((http, next) =>
            HttpMethods.IsPost(http.Request.Method)
            && http.Request.Path.Equals(mcpPath, StringComparison.OrdinalIgnoreCase)
            && !ModernEra.IsModern(http)
            && !http.Request.Headers.ContainsKey("Mcp-Session-Id")
                ? CheckAsync(http, next)
                : next(http)); // no await of its own for the requests it does not look into

    private static async Task CheckAsync(HttpContext http, RequestDelegate next)
    {
        if (await ModernMetaAsync(http) is { } metaVersion)
        {
            var header = http.Request.Headers["MCP-Protocol-Version"].ToString();
            http.Response.StatusCode = StatusCodes.Status400BadRequest;
            await http.Response.WriteAsJsonAsync(new
            {
                jsonrpc = "2.0",
                id = (object?)null,
                error = new
                {
                    code = -32020,
                    message = $"Header mismatch: MCP-Protocol-Version header value '{(header.Length == 0 ? "(none)" : header)}' does not match body _meta/{MetaVersionKey} value '{metaVersion}'.",
                },
            });
            return;
        }

        await next(http);
    }

    /// <summary>The modern version a request's <c>params._meta</c> names, if it names one.</summary>
    private static async Task<string?> ModernMetaAsync(HttpContext http)
    {
        http.Request.EnableBuffering();
        try
        {
            using var document = await JsonDocument.ParseAsync(http.Request.Body, cancellationToken: http.RequestAborted);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("params", out var parameters) && parameters.ValueKind == JsonValueKind.Object
                && parameters.TryGetProperty("_meta", out var meta) && meta.ValueKind == JsonValueKind.Object
                && meta.TryGetProperty(MetaVersionKey, out var version) && version.ValueKind == JsonValueKind.String
                && ModernEra.IsModernVersion(version.GetString())
                ? version.GetString()
                : null;
        }
        catch (JsonException)
        {
            return null; // not ours to judge: the SDK answers a malformed body
        }
        finally
        {
            http.Request.Body.Position = 0;
        }
    }
}
