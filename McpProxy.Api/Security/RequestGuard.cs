using McpProxy.Configuration;

namespace McpProxy.Security;

/// <summary>
/// The outermost proxy middleware. <c>[security] max_request_body</c>: a body declared larger is refused with
/// <b>413</b> before anything reads it, and one that turns out larger while being read (chunked) gets the same answer
/// instead of an exception. Failures that escape the pipeline before a response has started become a bare JSON error
/// (400/413 for malformed HTTP, 500 otherwise) — never ASP.NET Core's developer exception page, which echoes the
/// request's headers (the caller's <c>Authorization</c> among them).
/// </summary>
internal sealed partial class RequestGuard(RequestDelegate next, ProxyConfig config, ILogger<RequestGuard> logger)
{
    private readonly long _maxBody = config.Security.EffectiveMaxRequestBody;

    public async Task InvokeAsync(HttpContext context)
    {
        if (context.Request.ContentLength > _maxBody)
        {
            await WriteAsync(context, StatusCodes.Status413PayloadTooLarge, TooLarge());
            return;
        }

        try
        {
            await next(context);
        }
        catch (BadHttpRequestException ex) when (!context.Response.HasStarted)
        {
            LogBadRequest(ex.StatusCode, ex.Message);
            await WriteAsync(context, ex.StatusCode, ex.StatusCode == StatusCodes.Status413PayloadTooLarge ? TooLarge() : "The HTTP request is malformed.");
        }
        catch (Exception ex) when (!context.Response.HasStarted && !context.RequestAborted.IsCancellationRequested)
        {
            LogUnhandled(ex, context.Request.Method, context.Request.Path.Value ?? "/");
            await WriteAsync(context, StatusCodes.Status500InternalServerError, $"Internal error (trace id {context.TraceIdentifier}).");
        }
    }

    private string TooLarge() => $"The request body exceeds the limit of {_maxBody} bytes ([security] max_request_body).";

    /// <summary>A transport-level refusal as a JSON-RPC error without id (<c>-32600</c>; <c>-32603</c> for a 5xx).</summary>
    public static async Task WriteAsync(HttpContext context, int status, string message)
    {
        context.Response.Clear();
        context.Response.StatusCode = status;
        await context.Response.WriteAsJsonAsync(new { jsonrpc = "2.0", id = (string?)null, error = new { code = status >= 500 ? -32603 : -32600, message } });
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Refused a malformed HTTP request ({Status}): {Reason}")]
    private partial void LogBadRequest(int status, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled exception on {Method} {Path}")]
    private partial void LogUnhandled(Exception exception, string method, string path);
}
