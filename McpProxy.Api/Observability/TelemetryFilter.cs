using System.Diagnostics;
using McpProxy.Calls;
using ModelContextProtocol;

namespace McpProxy.Observability;

/// <summary>
/// The outermost filter: the call's span, its request metrics and audit event (<see cref="ProxyTelemetry"/>), and one
/// warning line per failed call (the exception, with its stack trace, at debug). The warning keeps the category it has
/// always had, <c>McpProxy.Routing.ProxyHandlers</c>, which operators' log filters name.
/// </summary>
internal sealed partial class TelemetryFilter(ProxyTelemetry telemetry, ICallFailures failures, ILoggerFactory loggers) : ICallFilter
{
    public const string LogCategory = "McpProxy.Routing.ProxyHandlers";

    private readonly ILogger _logger = loggers.CreateLogger(LogCategory);

    public async ValueTask<object> InvokeAsync(CallContext call, CallDelegate next, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        using var activity = telemetry.StartCall(call.Method, call.BackendName, call.Item, call.ProtocolVersion, call.SessionId);
        var outcome = "ok";
        Exception? failure = null;
        try
        {
            var result = await next(call, cancellationToken);
            if (!CallContext.Succeeded(result))
            {
                outcome = "tool_error";
            }

            return result;
        }
        catch (OperationCanceledException ex) when (cancellationToken.IsCancellationRequested)
        {
            outcome = "cancelled";
            failure = ex;
            if (failures.IsStopping)
            {
                // The host tore the client's request down while the proxy stops: say so rather than "cancelled".
                LogCallFailed(call.Method, call.Item, call.BackendName, $"The proxy is shutting down: the call to backend '{call.BackendName}' ended with its client's request.");
            }

            throw;
        }
        catch (Exception ex) when (failures.IsRefusal(ex))
        {
            outcome = "rejected";
            failure = ex;
            LogCallFailed(call.Method, call.Item, call.BackendName, ex.Message);
            throw;
        }
        catch (McpProtocolException ex)
        {
            // An expected failure (backend unavailable or cut, a timeout, the backend's own error): one warning line;
            // the exception, with its stack trace, at debug.
            outcome = "error";
            failure = ex;
            LogCallFailed(call.Method, call.Item, call.BackendName, WarningText(ex));
            LogCallFailedDetail(ex, call.Method, call.Item);
            throw;
        }
        catch (Exception ex)
        {
            outcome = "error";
            failure = ex;
            throw;
        }
        finally
        {
            telemetry.EndCall(activity, call.Method, call.BackendName, call.Item, outcome, Stopwatch.GetElapsedTime(started), call.User,
                telemetry.AuditsArguments ? call.Arguments : null, failure); // a fast-path call's arguments are read only for the audit
        }
    }

    /// <summary>
    /// The failure as the warning line gives it: the proxy's own message (unavailable, timed out, cut, refused), but for
    /// the backend's own JSON-RPC error only its code — its words may echo the caller's arguments (they go to debug).
    /// </summary>
    private string WarningText(McpProtocolException ex) =>
        failures.IsBackendError(ex) ? $"the backend answered JSON-RPC error {(int)((McpProtocolException)ex.InnerException!).ErrorCode}" : ex.Message;

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Method} '{Item}' on backend '{Backend}' failed: {Error}")]
    private partial void LogCallFailed(string method, string item, string backend, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Method} '{Item}' failure detail")]
    private partial void LogCallFailedDetail(Exception exception, string method, string item);
}
