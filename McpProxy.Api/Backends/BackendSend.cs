using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using McpProxy.Calls;
using McpProxy.Configuration;
using McpProxy.Observability;
using McpProxy.Resilience;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpProxy.Backends;

/// <summary>
/// The last step of the pipeline, run once per attempt: takes the backend's live client (a dead backend fails fast,
/// naming it), sends the request, and turns what went wrong into the caller's error — a lost HTTP session makes the
/// backend re-initialize, an oversized stdio result becomes the plain "too large" message, a connection that went away
/// under the call says so. Each attempt is one backend request in the metrics.
/// </summary>
internal sealed class BackendSend(BackendMetrics metrics, ProxyConfig config, IHttpContextAccessor httpContext)
{
    private static long s_requestIds;

    public async ValueTask<object> SendAsync(CallContext call, CancellationToken cancellationToken)
    {
        var backend = call.Connection();
        var client = backend.GetClientOrThrow();
        var started = Stopwatch.GetTimestamp();
        string? errorType = null;
        try
        {
            var result = await SendAsync(backend, client, call, cancellationToken);
            if (!CallContext.Succeeded(result))
            {
                errorType = "tool_error";
            }

            return result;
        }
        catch (HttpRequestException ex) when (ex.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            errorType = ProxyTelemetry.ErrorType("error", ex);
            backend.OnSessionLost(client, ex);
            throw;
        }
        catch (McpProtocolException ex) when (ResultSizeLimit.IsStandIn(ex))
        {
            // A stdio backend's oversized response, replaced while it was read: the caller gets the plain message.
            errorType = typeof(ResultTooLargeException).FullName;
            throw new ResultTooLargeException(backend.Name, config.Security.MaxResultSize);
        }
        catch (Exception ex) when (ex is not McpProtocolException && !cancellationToken.IsCancellationRequested)
        {
            // The connection went away under the call (the child exited, the connection closed): say so.
            errorType = ProxyTelemetry.ErrorType("error", ex);
            if (await backend.DescribeLossAsync(client) is { } lost)
            {
                throw new BackendCallCutException(lost, ex);
            }

            throw;
        }
        catch (Exception ex)
        {
            errorType = ProxyTelemetry.ErrorType("error", ex);
            throw;
        }
        finally
        {
            metrics.RecordBackendRequest(backend, client, call.Method, call.OriginalItem, Stopwatch.GetElapsedTime(started), errorType);
        }
    }

    private ValueTask<object> SendAsync(BackendConnection backend, McpClient client, CallContext call, CancellationToken ct)
    {
        if (call.Raw is { } raw && backend.FastWire is { } wire)
        {
            // The fast path: the caller's bytes to the backend's endpoint (a backend that changed era since the call was
            // routed takes the typed path below, with the typed params built from the same bytes).
            backend.CountFastPathCall();
            return BackendRawSend.SendAsync(wire, call, raw, ct);
        }

        return SendTypedAsync(backend, client, call, ct);
    }

    private async ValueTask<object> SendTypedAsync(BackendConnection backend, McpClient client, CallContext call, CancellationToken ct)
    {
        if (BackendEra.IsModern(client.NegotiatedProtocolVersion) && call.Forwarded is RequestParams forwarded and not (SubscribeRequestParams or UnsubscribeRequestParams))
        {
            // No logging/setLevel in 2026-07-28: without a level in _meta a modern backend sends no log messages.
            BackendEra.StampLogLevel(forwarded, backend.WantedLogLevel);
        }

        switch (call.Forwarded)
        {
            case CallToolRequestParams tool:
                // The caller's Mcp-Param-* headers the backend's schema does not annotate go through (modern HTTP backends).
                using (McpParamHeaderHandler.Use(backend.IsModern ? McpParamHeaderHandler.Capture(httpContext.HttpContext) : null))
                {
                    return await CallWithCancellationAsync(client, tool, ct);
                }

            case GetPromptRequestParams prompt:
                return await client.GetPromptAsync(prompt, ct);
            case ReadResourceRequestParams read:
                return await client.ReadResourceAsync(read, ct);
            case CompleteRequestParams complete:
                return await client.CompleteAsync(complete, ct);
            case SubscribeRequestParams subscribe:
                await backend.SubscribeResourceAsync(client, subscribe.Uri, subscribe: true, ct);
                return new EmptyResult();
            case UnsubscribeRequestParams unsubscribe:
                await backend.SubscribeResourceAsync(client, unsubscribe.Uri, subscribe: false, ct);
                return new EmptyResult();
            default:
                throw new InvalidOperationException($"{call.Method} is not a proxied call.");
        }
    }

    /// <summary>
    /// tools/call with a request id of our own, so that when the caller cancels we can send the backend
    /// <c>notifications/cancelled</c> ourselves: the SDK 2.4.0 client does not send it over Streamable HTTP.
    /// </summary>
    private static async ValueTask<CallToolResult> CallWithCancellationAsync(McpClient client, CallToolRequestParams request, CancellationToken ct)
    {
        var id = new RequestId("mcp-proxy-" + Interlocked.Increment(ref s_requestIds).ToString(CultureInfo.InvariantCulture));
        await using var onCancel = ct.Register(() => _ = client.SendNotificationAsync(
            NotificationMethods.CancelledNotification,
            new CancelledNotificationParams { RequestId = id, Reason = "cancelled by the proxy's caller" },
            cancellationToken: CancellationToken.None));
        var response = await client.SendRequestAsync(
            new JsonRpcRequest
            {
                Id = id,
                Method = RequestMethods.ToolsCall,
                Params = JsonSerializer.SerializeToNode(request, McpJsonUtilities.DefaultOptions),
            },
            ct);
        return JsonSerializer.Deserialize<CallToolResult>(response.Result, McpJsonUtilities.DefaultOptions)
            ?? throw new McpProtocolException("Backend returned an empty tools/call result.", McpErrorCode.InternalError);
    }
}
