using ModelContextProtocol;
using Polly.Timeout;

namespace McpProxy.Resilience;

/// <summary>
/// The one definition of "the backend failed", shared by the circuit breaker, retry, hedging and outlier detection:
/// transport errors, timeouts, JSON-RPC errors -32603 (internal error) and -32000..-32099 (server errors), and an
/// unavailable backend (its process died or its session is gone). A tool result with <c>isError: true</c> is the
/// tool's answer, not a failure; nor are the caller's own mistakes (-32602 invalid params, -32601 unknown method) or
/// the caller's cancellation.
/// </summary>
internal static class BackendFailure
{
    public static bool IsFailure(Exception? exception) => exception switch
    {
        null => false,
        ProxyRejectedException => false, // our own fast-fail (open circuit, ejection, limits): not new evidence
        Calls.ResultTooLargeException => false, // [security] max_result_size: the same call would be as large again
        TimeoutRejectedException => true,
        McpProtocolException p => IsFailureCode((int)p.ErrorCode),
        McpException or IOException or HttpRequestException or ObjectDisposedException or TimeoutException => true,
        InvalidOperationException => true, // the SDK's "transport is not connected" and friends
        _ => false,
    };

    public static bool IsFailureCode(int code) => code == -32603 || code is >= -32099 and <= -32000;

    /// <summary>
    /// What a client or <c>/admin/backends</c> may be told about a failure: a generic reason ("connection failed",
    /// "HTTP 502", "connection closed", "process failed to start"), never the exception's text, which can hold a
    /// child's stderr, internal host:port addresses or URLs with credentials. The full exception goes to the log.
    /// </summary>
    public static string PublicReason(Exception exception) => exception switch
    {
        TimeoutRejectedException or TimeoutException or OperationCanceledException => "timed out",
        HttpRequestException { StatusCode: { } status } => $"HTTP {(int)status}",
        HttpRequestException => "connection failed",
        McpProtocolException p => $"error {(int)p.ErrorCode}",
        _ when Chain(exception).Any(e => e is System.ComponentModel.Win32Exception) => "process failed to start",
        _ when Chain(exception).Any(e => e is HttpRequestException) => "connection failed",
        IOException or ObjectDisposedException => "connection closed",
        _ => "connection failed",
    };

    private static IEnumerable<Exception> Chain(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            yield return e;
        }
    }
}

/// <summary>A call the proxy refused before it reached the backend (open circuit, ejected backend, rate or concurrency limit).</summary>
internal sealed class ProxyRejectedException(string message) : Exception(message);

/// <summary>The JSON-RPC error (-32603) a client gets for a call the proxy refused; its own type so telemetry can tell refusals from failures.</summary>
internal sealed class ProxyRefusedException(string message) : McpProtocolException(message, McpErrorCode.InternalError);

/// <summary>
/// The JSON-RPC error (-32603) for a call that was running when its backend connection went away: the child exited or
/// the connection closed (a failure of the backend), or the proxy cut it on purpose (<paramref name="isCut"/>: a
/// reload past its drain, the shutdown timeout). The message says which, instead of the bare cancellation.
/// </summary>
internal sealed class BackendCallCutException(string message, Exception inner, bool isCut = false)
    : McpProtocolException(message, inner, McpErrorCode.InternalError)
{
    public bool IsCut { get; } = isCut;
}

/// <summary>The JSON-RPC error (-32603) for a call to a backend that is not ready: the proxy's words, not the backend's.</summary>
internal sealed class BackendUnavailableException(string message) : McpProtocolException(message, McpErrorCode.InternalError);
