using McpProxy.Configuration;

namespace McpProxy.Security;

/// <summary>
/// DNS-rebinding protection on the MCP endpoint, as the MCP transport spec requires: a request that carries an
/// <c>Origin</c> header is refused (403) unless that origin is the proxy's own (same scheme, host and port as the
/// request) or is listed in <c>[security] allowed_origins</c> (<c>"*"</c> allows any). Requests without
/// <c>Origin</c> (non-browser clients) pass.
/// </summary>
internal sealed partial class OriginValidation(RequestDelegate next, ProxyConfig config, ILogger<OriginValidation> logger)
{
    private readonly HashSet<string> _allowed = new(config.Security.AllowedOrigins.Select(o => o.TrimEnd('/')), StringComparer.OrdinalIgnoreCase);
    private readonly PathString _mcpPath = config.Proxy.Listen.Path;

    public async Task InvokeAsync(HttpContext context)
    {
        if (context.Request.Path.StartsWithSegments(_mcpPath)
            && context.Request.Headers.Origin is { Count: > 0 } origins
            && origins.ToString() is { Length: > 0 } origin
            && !IsAllowed(origin, context.Request))
        {
            LogRefused(origin);
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            await context.Response.WriteAsJsonAsync(new
            {
                jsonrpc = "2.0",
                id = (string?)null,
                error = new { code = -32600, message = $"Origin '{origin}' is not allowed (add it to [security] allowed_origins)." },
            });
            return;
        }

        await next(context);
    }

    private bool IsAllowed(string origin, HttpRequest request)
    {
        if (_allowed.Contains("*") || _allowed.Contains(origin.TrimEnd('/')))
        {
            return true;
        }

        return Uri.TryCreate(origin, UriKind.Absolute, out var uri)
            && string.Equals(uri.Scheme, request.Scheme, StringComparison.OrdinalIgnoreCase)
            && string.Equals(uri.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused a request from origin {Origin} (DNS-rebinding protection)")]
    private partial void LogRefused(string origin);
}
