using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using McpProxy.Calls;
using McpProxy.Configuration;
using McpProxy.Eras;
using McpProxy.Observability;
using McpProxy.Pipeline;
using McpProxy.Replicas;
using McpProxy.Routing;
using McpProxy.Sessions;
using Microsoft.Extensions.Primitives;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpProxy.FastPath;

/// <summary>
/// The fast path's front (README "Fast path"): a <c>tools/call</c>, <c>prompts/get</c> or <c>resources/read</c> to a
/// modern-era HTTP backend is taken without the SDK's message model. A 2026-07-28 request is recognised by its
/// <c>Mcp-Method</c>/<c>Mcp-Name</c> headers — the spec added them for exactly this — and checked against its body; a
/// legacy session's request by its body's <c>method</c> and <c>params.name</c>/<c>uri</c>. The body is read once with
/// <see cref="JsonDocument"/> over a pooled buffer; the call is routed by <see cref="CallRouter.Fast"/>, runs through
/// the same pipeline as every call (<see cref="ProxyPipeline"/>: mirror, telemetry and audit, cache, coalescing, drain,
/// resilience), reaches the backend as bytes with its name spliced in (<c>Backends.BackendRawSend</c>), and its result
/// goes back as the backend's bytes under the caller's id (a resource's URIs namespaced).
/// </summary>
/// <remarks>
/// <para>
/// A legacy session stays the SDK's: the fast path answers its calls only while the session is this instance's and alive
/// (not on replicas sharing Redis, where the SDK keeps its events resumable), for its owner, in its negotiated version.
/// The SDK's idle timer sees only its own requests, so one request in every <see cref="ClientSession.TypedTurnEvery"/>
/// takes the typed path; a <c>notifications/cancelled</c> cancels a fast call (<c>Sessions.FastCallCancel</c>); the log
/// lines the backend sends during the call precede the result on its response stream, as on the typed path.
/// </para>
/// <para>
/// Anything else takes the typed path, unchanged and with its own answers: a request the SDK would refuse (headers that
/// do not match the body, missing per-request <c>_meta</c>, a batch, unknown params), a call that asks for progress or
/// (modern) a log level, a Multi Round-Trip retry, an item the caller may not use or that does not exist, a backend
/// without a fast way. A backend that answers <c>input_required</c> hands the call to the typed path, which runs its
/// rounds (a new request for the backend: a client may always start over, spec "Multi Round-Trip Requests").
/// </para>
/// </remarks>
internal sealed class FastPathFront(
    CallRouter router, ProxyPipeline pipeline, ProxyCatalog catalog, ProxyConfig config, SessionHub sessions, ReplicaInstance replica, TimeProvider time)
{
    private static ReadOnlySpan<byte> Prefix => "{\"jsonrpc\":\"2.0\",\"id\":"u8;

    // The proxy as the server of every result, as the SDK's server names itself on modern results.
    private readonly byte[] _serverInfo = JsonSerializer.SerializeToUtf8Bytes(
        new Implementation { Name = config.Proxy.Name, Version = config.Proxy.Version }, McpJsonUtilities.DefaultOptions);

    private readonly string _path = config.Proxy.Listen.Path;

    // Legacy sessions are served here only on a standalone proxy: with replicas the SDK keeps their SSE events resumable
    // and their expiry in Redis (Replicas/), which only its own handling does.
    private readonly bool _legacy = !replica.Shared;

    // How often a session busy on the fast path shows the SDK its use (ClientSession.TypedTurnEvery), in timestamp ticks.
    private readonly long _typedTurn = (long)(ClientSession.TypedTurnEvery(TimeSpan.FromSeconds(config.Proxy.Sessions.IdleTimeoutSeconds)).TotalSeconds * time.TimestampFrequency);

    // A request it does not take passes on without an await of its own (a legacy session's GET stream would otherwise hold
    // this method's state for as long as it lasts).
    public Task InvokeAsync(HttpContext http, RequestDelegate next)
    {
        if (!IsCallShaped(http.Request, out var length))
        {
            if (HttpMethods.IsDelete(http.Request.Method))
            {
                Ending(http);
            }

            return next(http);
        }

        var headers = http.Request.Headers;
        if (!headers.ContainsKey("Mcp-Session-Id"))
        {
            return IsModernCall(headers, out var method, out var name) ? TakeAsync(http, next, method, name, length, session: null) : next(http);
        }

        return _legacy && LegacySession(http) is { } session ? TakeAsync(http, next, "", "", length, session) : next(http);
    }

    /// <summary>
    /// The live legacy session a request belongs to, when the fast path may answer it for the SDK: the session is this
    /// instance's, the request is its owner's and speaks its negotiated version, and it is not the request that shows the
    /// SDK the session in use (<see cref="ClientSession.TakesTypedTurn"/>). A <c>DELETE</c> by its owner ends the fast
    /// path's service at once (the SDK then answers the session's requests: 404 once it is gone).
    /// </summary>
    private ClientSession? LegacySession(HttpContext http)
    {
        var headers = http.Request.Headers;
        if (headers["Mcp-Session-Id"] is not [{ } id]
            || sessions.Live(id) is not { Ended: false } session
            || headers["MCP-Protocol-Version"] is not [{ } version] || version != session.Server.NegotiatedProtocolVersion
            || SessionOwner.Of(Caller(http)) != session.Owner
            || session.TakesTypedTurn(time.GetTimestamp(), _typedTurn))
        {
            return null;
        }

        return session;
    }

    /// <summary>Its owner ends a legacy session: the fast path stops serving it before the SDK closes it.</summary>
    private void Ending(HttpContext http)
    {
        if (http.Request.Path.Equals(_path, StringComparison.OrdinalIgnoreCase)
            && http.Request.Headers["Mcp-Session-Id"] is [{ } id]
            && sessions.Live(id) is { } session
            && SessionOwner.Of(Caller(http)) == session.Owner)
        {
            session.End();
        }
    }

    /// <param name="method">The method and item the headers name (a modern call); empty for a legacy session's, read from the body.</param>
    private async Task TakeAsync(HttpContext http, RequestDelegate next, string method, string name, int length, ClientSession? session)
    {
        var buffer = CallBuffers.Pool.Rent(length > 0 ? length : 4096);
        JsonDocument? document = null;
        try
        {
            if (length > 0)
            {
                await http.Request.Body.ReadExactlyAsync(buffer.AsMemory(0, length), http.RequestAborted);
            }
            else
            {
                // No Content-Length (the SDK's client streams its JSON): read to the end, within the body limit the
                // server enforces on every request ([security] max_request_body).
                (buffer, length) = await ReadToEndAsync(http.Request.Body, buffer, http.RequestAborted);
            }

            var body = buffer.AsMemory(0, length);
            if (length > config.Security.MaxArgumentSize)
            {
                await TypedAsync(http, next, body);
                return;
            }

            try
            {
                document = JsonDocument.Parse(body);
            }
            catch (JsonException)
            {
                // Not ours to judge: the SDK answers a malformed body.
            }

            if (document is null
                || session is not null && !TryReadTarget(document.RootElement, http.Request.Headers, out method, out name)
                || !TryRead(document.RootElement, method, name, legacy: session is not null, out var id, out var parameters)
                || router.Fast(method, name, parameters, JsonMarshal.GetRawUtf8Value(parameters).Length, Caller(http), Legacy(session)) is not { } call)
            {
                await TypedAsync(http, next, body);
                return;
            }

            var version = session?.Server.NegotiatedProtocolVersion ?? ModernEra.Version;
            var started = ServerOperationMetric.Enabled ? Stopwatch.GetTimestamp() : 0;
            using var span = StartServerSpan(method, name, parameters, version, session);

            // A legacy client cancels with notifications/cancelled (which the SDK receives: Sessions.FastCallCancel); a
            // modern one by closing its stream, which is the request's own token.
            var requestId = session is null ? null : RequestIdOf(id);
            using var cancel = requestId is null ? null : CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
            var token = cancel?.Token ?? http.RequestAborted;
            object result;
            try
            {
                if (cancel is not null)
                {
                    session!.BeginFastCall(requestId!.Value, cancel);
                }

                result = await pipeline.CallAsync(call, token);
            }
            catch (OperationCanceledException ex) when (token.IsCancellationRequested)
            {
                Measured(started, method, name, version, ex);
                if (session is not null && !http.RequestAborted.IsCancellationRequested)
                {
                    // Cancelled by notifications/cancelled: no answer, and, as the SDK does for a cancelled request of a
                    // session, the response stays open until the client leaves it or the session ends.
                    await UntilAsync(http.RequestAborted, session.Closing);
                }

                return; // the caller closed its stream or cancelled the call: no answer (the backend's call was closed too)
            }
            catch (Exception ex)
            {
                Measured(started, method, name, version, ex);
                await WriteAsync(http, id, Error(ex), session is null ? ErrorStatus(ex) : StatusCodes.Status200OK, isError: true);
                return;
            }
            finally
            {
                if (cancel is not null)
                {
                    session!.EndFastCall(requestId!.Value, cancel);
                }
            }

            if (result is RawResult { InputRequired: true })
            {
                await TypedAsync(http, next, body); // measured by the SDK's server, which answers it
                return;
            }

            Measured(started, method, name, version, failure: null, toolError: !CallContext.Succeeded(result));
            var (json, edits) = Result(call, result, session);
            if (session is not null && result is RawResult { LogsDropped: > 0 } flooded)
            {
                session.CountDropped(flooded.LogsDropped, NotificationMethods.LoggingMessageNotification);
            }

            if (session is not null && result is RawResult { Logs: { Count: > 0 } logs })
            {
                await WriteEventsAsync(http, session, call.BackendName, logs, id, json, edits);
                return;
            }

            await WriteAsync(http, id, json, StatusCodes.Status200OK, edits: edits);
        }
        finally
        {
            document?.Dispose();
            CallBuffers.Pool.Return(buffer);
        }
    }

    private static async Task UntilAsync(CancellationToken first, CancellationToken second)
    {
        using var either = CancellationTokenSource.CreateLinkedTokenSource(first, second);
        try
        {
            await Task.Delay(Timeout.Infinite, either.Token);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>What a legacy session's call declares to a modern backend: the session's capabilities and log level.</summary>
    private static SessionCall? Legacy(ClientSession? session) =>
        session is null ? null : new(session.Id, session.Server.NegotiatedProtocolVersion, session.CapabilitiesJson, session.MinimumLogLevel, ClientSession.OutboxCapacity);

    /// <summary>The request's id as the SDK names it (a fractional number, which no client sends, has none: not cancellable).</summary>
    private static RequestId? RequestIdOf(JsonElement id) => id.ValueKind switch
    {
        JsonValueKind.String => new RequestId(id.GetString()!),
        JsonValueKind.Number when id.TryGetInt64(out var number) => new RequestId(number),
        _ => null,
    };

    /// <summary>
    /// A legacy request's method and item, read from its body. Its <c>Mcp-Method</c>/<c>Mcp-Name</c> headers are not the
    /// era's and need not be there (the SDK's client sends them anyway); when they are, they must say the same.
    /// </summary>
    private static bool TryReadTarget(JsonElement root, IHeaderDictionary headers, out string method, out string name)
    {
        method = name = "";
        if (root.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("method"u8, out var m) || m.ValueKind != JsonValueKind.String
            || !root.TryGetProperty("params"u8, out var parameters) || parameters.ValueKind != JsonValueKind.Object)
        {
            return false;
        }

        method = m.ValueEquals(RequestMethods.ToolsCall) ? RequestMethods.ToolsCall
            : m.ValueEquals(RequestMethods.PromptsGet) ? RequestMethods.PromptsGet
            : m.ValueEquals(RequestMethods.ResourcesRead) ? RequestMethods.ResourcesRead
            : "";
        if (method.Length == 0
            || !parameters.TryGetProperty(method == RequestMethods.ResourcesRead ? "uri"u8 : "name"u8, out var item)
            || item.ValueKind != JsonValueKind.String)
        {
            return false;
        }

        name = item.GetString()!;
        return name.Length > 0
            && headers["Mcp-Method"] is var methodHeader && (methodHeader.Count == 0 || methodHeader is [{ } sentMethod] && sentMethod == method)
            && headers["Mcp-Name"] is var nameHeader && (nameHeader.Count == 0 || nameHeader is [{ } sentName] && (McpHeaderEncoder.DecodeValue(sentName) ?? sentName) == name);
    }

    /// <summary>The call in <c>mcp.server.operation.duration</c>, with the attributes the SDK's server gives it.</summary>
    private static void Measured(long started, string method, string name, string version, Exception? failure, bool toolError = false)
    {
        if (started == 0)
        {
            return;
        }

        var (errorType, rpcError) = failure switch
        {
            McpProtocolException protocol => (((int)protocol.ErrorCode).ToString(System.Globalization.CultureInfo.InvariantCulture), true),
            not null => (failure.GetType().FullName, false),
            null when toolError => (method == RequestMethods.ToolsCall ? "tool_error" : "_OTHER", false),
            _ => ((string?)null, false),
        };
        ServerOperationMetric.Record(started, method, name, version, errorType, rpcError);
    }

    /// <summary>
    /// The server span of the caller's call, as the SDK's server starts one for the typed path: named
    /// <c>{method} {target}</c>, a child of the trace context in the request's <c>_meta</c> when it has one.
    /// </summary>
    private static Activity? StartServerSpan(string method, string name, JsonElement parameters, string version, ClientSession? session)
    {
        var source = ProxyDiagnostics.ActivitySource;
        if (!source.HasListeners())
        {
            return null;
        }

        ActivityContext parent = default;
        if (parameters.TryGetProperty("_meta"u8, out var meta) && meta.TryGetProperty("traceparent"u8, out var traceparent) && traceparent.ValueKind == JsonValueKind.String)
        {
            var state = meta.TryGetProperty("tracestate"u8, out var tracestate) && tracestate.ValueKind == JsonValueKind.String ? tracestate.GetString() : null;
            _ = ActivityContext.TryParse(traceparent.GetString(), state, out parent);
        }

        var span = parent == default
            ? source.StartActivity($"{method} {name}", ActivityKind.Server)
            : source.StartActivity($"{method} {name}", ActivityKind.Server, parent);
        span?.SetTag("mcp.method.name", method);
        span?.SetTag("mcp.protocol.version", version);
        if (session is not null)
        {
            span?.SetTag("mcp.session.id", session.Id);
        }

        span?.SetTag("network.transport", "tcp");
        span?.SetTag("mcp_proxy.fast_path", true);
        return span;
    }

    private static readonly System.Security.Claims.ClaimsPrincipal Anonymous = new(new System.Security.Claims.ClaimsIdentity());

    /// <summary>The authenticated caller, or one shared anonymous principal (not a new one per request, as <c>HttpContext.User</c> makes).</summary>
    private static System.Security.Claims.ClaimsPrincipal Caller(HttpContext http) =>
        http.Features.Get<Microsoft.AspNetCore.Http.Features.Authentication.IHttpAuthenticationFeature>()?.User ?? Anonymous;

    /// <summary>A POST of one JSON call to the MCP endpoint, of a size and shape the fast path may take (both eras).</summary>
    private bool IsCallShaped(HttpRequest request, out int length)
    {
        length = 0;
        var headers = request.Headers;
        if (!HttpMethods.IsPost(request.Method)
            || !request.Path.Equals(_path, StringComparison.OrdinalIgnoreCase)
            || request.ContentLength is { } declared && (declared <= 0 || declared > config.Security.MaxArgumentSize)
            || request.ContentType is not { } contentType || !contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase)
            || !Accepts(headers.Accept))
        {
            return false;
        }

        foreach (var (header, _) in headers)
        {
            if (header.StartsWith(McpParamHeaders.Prefix, StringComparison.OrdinalIgnoreCase))
            {
                return false; // header-carried arguments are checked on the typed path
            }
        }

        length = (int)(request.ContentLength ?? 0);
        return true;
    }

    /// <summary>The headers say it is a modern call the fast path may take; the body is read only then.</summary>
    private static bool IsModernCall(IHeaderDictionary headers, out string method, out string name)
    {
        method = name = "";
        if (headers["MCP-Protocol-Version"] is not [ModernEra.Version]
            || headers["Mcp-Method"] is not [{ } methodHeader]
            || methodHeader is not (RequestMethods.ToolsCall or RequestMethods.PromptsGet or RequestMethods.ResourcesRead)
            || headers["Mcp-Name"] is not [{ Length: > 0 } nameHeader])
        {
            return false;
        }

        method = methodHeader;
        name = McpHeaderEncoder.DecodeValue(nameHeader) ?? nameHeader;
        return true;
    }

    /// <summary>Reads a body of unknown length into a pooled buffer that grows as needed (bodies this path takes fit the first).</summary>
    private static async ValueTask<(byte[] Buffer, int Length)> ReadToEndAsync(Stream body, byte[] buffer, CancellationToken cancellationToken)
    {
        var length = 0;
        while (true)
        {
            if (length == buffer.Length)
            {
                var larger = CallBuffers.Pool.Rent(buffer.Length * 2);
                buffer.AsSpan(0, length).CopyTo(larger);
                buffer = larger; // the smaller one is left to the GC: the caller returns whichever it holds when it ends

            }

            var read = await body.ReadAsync(buffer.AsMemory(length), cancellationToken);
            if (read == 0)
            {
                return (buffer, length);
            }

            length += read;
        }
    }

    /// <summary>The SDK answers 406 unless a POST accepts both JSON and SSE; the fast path answers JSON.</summary>
    private static bool Accepts(StringValues accept)
    {
        bool json = false, sse = false;
        foreach (var value in accept)
        {
            json |= value?.Contains("application/json", StringComparison.OrdinalIgnoreCase) == true;
            sse |= value?.Contains("text/event-stream", StringComparison.OrdinalIgnoreCase) == true;
        }

        return json && sse;
    }

    /// <summary>
    /// The body is one request exactly as the headers say (method and name), with the era's per-request <c>_meta</c>
    /// (protocol version, client capabilities), no progress token or log level (a fast-path answer is one message),
    /// no Multi Round-Trip retry, and nothing the typed model would read that the fast path does not.
    /// </summary>
    private static bool TryRead(JsonElement root, string method, string name, bool legacy, out JsonElement id, out JsonElement parameters)
    {
        id = parameters = default;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return false;
        }

        var seen = 0;
        foreach (var property in root.EnumerateObject())
        {
            seen++;
            if (property.NameEquals("jsonrpc"u8))
            {
                if (!property.Value.ValueEquals("2.0"u8))
                {
                    return false;
                }
            }
            else if (property.NameEquals("id"u8))
            {
                id = property.Value;
            }
            else if (property.NameEquals("method"u8))
            {
                if (property.Value.ValueKind != JsonValueKind.String || !property.Value.ValueEquals(method))
                {
                    return false;
                }
            }
            else if (property.NameEquals("params"u8))
            {
                parameters = property.Value;
            }
            else
            {
                return false;
            }
        }

        return seen == 4
            && id.ValueKind is JsonValueKind.String or JsonValueKind.Number
            && parameters.ValueKind == JsonValueKind.Object
            && IsPlainCall(parameters, method, name, legacy);
    }

    private static bool IsPlainCall(JsonElement parameters, string method, string name, bool legacy)
    {
        var itemKey = method == RequestMethods.ResourcesRead ? "uri"u8 : "name"u8;
        bool item = false, meta = false;
        foreach (var property in parameters.EnumerateObject())
        {
            if (property.NameEquals(itemKey))
            {
                if (item || property.Value.ValueKind != JsonValueKind.String || !property.Value.ValueEquals(name))
                {
                    return false;
                }

                item = true;
            }
            else if (property.NameEquals("arguments"u8) && method != RequestMethods.ResourcesRead)
            {
                if (property.Value.ValueKind != JsonValueKind.Object
                    || (method == RequestMethods.PromptsGet && property.Value.EnumerateObject().Any(a => a.Value.ValueKind != JsonValueKind.String)))
                {
                    return false;
                }
            }
            else if (property.NameEquals("_meta"u8))
            {
                if (meta || !(legacy ? IsPlainLegacyMeta(property.Value) : IsPlainMeta(property.Value)))
                {
                    return false;
                }

                meta = true;
            }
            else
            {
                return false;
            }
        }

        return item && (meta || legacy);
    }

    /// <summary>A legacy session's <c>_meta</c> (optional): no progress token (its progress is relayed on the typed path) and none of the modern era's keys.</summary>
    private static bool IsPlainLegacyMeta(JsonElement meta)
    {
        if (meta.ValueKind != JsonValueKind.Object)
        {
            return false;
        }

        foreach (var property in meta.EnumerateObject())
        {
            if (property.NameEquals("progressToken"u8) || property.NameEquals("io.modelcontextprotocol/protocolVersion"u8)
                || property.NameEquals("io.modelcontextprotocol/clientCapabilities"u8) || property.NameEquals("io.modelcontextprotocol/logLevel"u8))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsPlainMeta(JsonElement meta) =>
        meta.ValueKind == JsonValueKind.Object
        && meta.TryGetProperty("io.modelcontextprotocol/protocolVersion"u8, out var version) && version.ValueKind == JsonValueKind.String && version.ValueEquals(ModernEra.Version)
        && meta.TryGetProperty("io.modelcontextprotocol/clientCapabilities"u8, out var capabilities) && capabilities.ValueKind == JsonValueKind.Object
        && !meta.TryGetProperty("progressToken"u8, out _)
        && !meta.TryGetProperty("io.modelcontextprotocol/logLevel"u8, out _);

    /// <summary>Hands the request to the typed path (the SDK) with its body as it was sent.</summary>
    private static Task TypedAsync(HttpContext http, RequestDelegate next, ReadOnlyMemory<byte> body)
    {
        http.Request.Body = new MemoryStream(body.ToArray(), writable: false);
        return next(http);
    }

    /// <summary>
    /// The result as the caller gets it: the backend's bytes (or a typed result's JSON, when its backend changed era under
    /// the call) and the splices that name the proxy as the server and namespace a resource's URIs (<see cref="ResultEdits"/>).
    /// </summary>
    private (ReadOnlyMemory<byte> Json, List<ResultEdit> Edits) Result(CallContext call, object result, ClientSession? session)
    {
        var raw = result as RawResult ?? RawResult.FromTyped(result);
        var backend = call.BackendName;
        // A legacy session's result keeps the backend's _meta as it is: the SDK's server names itself only on modern results.
        return (raw.Json, ResultEdits.Of(raw, session is null ? _serverInfo : null, call.Method == RequestMethods.ResourcesRead ? uri => catalog.Namespace(backend, uri) : null));
    }

    /// <summary>The error as the SDK's server writes it for the same exception (code, message, data).</summary>
    private static ReadOnlyMemory<byte> Error(Exception exception)
    {
        var detail = exception switch
        {
            MissingRequiredClientCapabilityException missing => new JsonRpcErrorDetail
            {
                Code = (int)missing.ErrorCode,
                Message = missing.Message,
                Data = JsonSerializer.SerializeToElement(
                    new Dictionary<string, ClientCapabilities> { ["requiredCapabilities"] = missing.RequiredCapabilities }, McpJsonUtilities.DefaultOptions),
            },
            McpProtocolException protocol => new JsonRpcErrorDetail { Code = (int)protocol.ErrorCode, Message = protocol.Message, Data = Data(protocol.Data) },
            McpException mcp => new JsonRpcErrorDetail { Code = (int)McpErrorCode.InternalError, Message = mcp.Message },
            _ => new JsonRpcErrorDetail { Code = (int)McpErrorCode.InternalError, Message = "An error occurred." },
        };

        return JsonSerializer.SerializeToUtf8Bytes(detail, McpJsonUtilities.DefaultOptions);
    }

    private static Dictionary<string, JsonElement>? Data(System.Collections.IDictionary data)
    {
        Dictionary<string, JsonElement>? result = null;
        foreach (System.Collections.DictionaryEntry entry in data)
        {
            if (entry.Key is string key)
            {
                try
                {
                    (result ??= [])[key] = JsonSerializer.SerializeToElement(entry.Value, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(object)));
                }
                catch (Exception ex) when (ex is NotSupportedException or JsonException)
                {
                    // not serializable: left out, as the SDK does
                }
            }
        }

        return result;
    }

    /// <summary>The HTTP status the SDK gives a modern request's error (SEP-2575).</summary>
    private static int ErrorStatus(Exception exception) => exception is McpProtocolException protocol
        ? protocol.ErrorCode switch
        {
            McpErrorCode.MethodNotFound => StatusCodes.Status404NotFound,
            McpErrorCode.MissingRequiredClientCapability or McpErrorCode.UnsupportedProtocolVersion or McpErrorCode.HeaderMismatch => StatusCodes.Status400BadRequest,
            _ => StatusCodes.Status200OK,
        }
        : StatusCodes.Status200OK;

    /// <summary>
    /// One JSON-RPC message: <c>{"jsonrpc":"2.0","id":…,"result"|"error":…}</c>, the id as the caller wrote it, the
    /// payload spliced. A large payload goes out in flushed pieces, so the response pipe never holds a copy of it whole.
    /// </summary>
    private static Task WriteAsync(HttpContext http, JsonElement id, ReadOnlyMemory<byte> payload, int status, bool isError = false, List<ResultEdit>? edits = null)
    {
        var writer = http.Response.BodyWriter;
        WriteHead(http.Response, id, payload.Length, status, isError, edits);
        if (payload.Length <= FlushEvery)
        {
            Write(writer, payload.Span, edits);
            return writer.FlushAsync(http.RequestAborted).AsTask();
        }

        return WritePiecesAsync(writer, payload, edits, http.RequestAborted);
    }

    private const int FlushEvery = 64 * 1024;

    private static void WriteHead(HttpResponse response, JsonElement id, int payloadLength, int status, bool isError, List<ResultEdit>? edits)
    {
        var key = isError ? ",\"error\":"u8 : ",\"result\":"u8;
        var rawId = JsonMarshal.GetRawUtf8Value(id);
        var length = Prefix.Length + rawId.Length + key.Length + payloadLength + 1;
        foreach (var edit in edits ?? [])
        {
            length += edit.Replacement.Length - edit.Length;
        }

        response.StatusCode = status;
        response.ContentType = "application/json";
        response.ContentLength = length;
        var writer = response.BodyWriter;
        writer.Write(Prefix);
        writer.Write(rawId);
        writer.Write(key);
    }

    private static void Write(IBufferWriter<byte> writer, ReadOnlySpan<byte> payload, List<ResultEdit>? edits)
    {
        var at = 0;
        foreach (var edit in edits ?? [])
        {
            writer.Write(payload[at..edit.Start]);
            writer.Write(edit.Replacement.Span);
            at = edit.Start + edit.Length;
        }

        writer.Write(payload[at..]);
        writer.Write("}"u8);
    }

    /// <summary>
    /// A legacy session's result after the log lines its backend sent during the call, as SSE on the call's response
    /// stream: what the typed path sends on it (each line namespaced and at or above the session's level), then the result.
    /// </summary>
    private async Task WriteEventsAsync(
        HttpContext http, ClientSession session, string backend, IReadOnlyCollection<byte[]> logs, JsonElement id, ReadOnlyMemory<byte> payload, List<ResultEdit> edits)
    {
        var response = http.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache,no-store";
        var writer = response.BodyWriter;
        foreach (var log in logs)
        {
            if (JsonNode.Parse(log)?["params"] is JsonObject parameters && sessions.LogFor(session, backend, parameters) is { } line)
            {
                WriteEvent(writer, JsonSerializer.SerializeToUtf8Bytes(
                    new JsonRpcNotification { Method = NotificationMethods.LoggingMessageNotification, Params = JsonObject.Create(line) },
                    McpJsonUtilities.DefaultOptions));
            }
        }

        var message = new ArrayBufferWriter<byte>(payload.Length + 64);
        message.Write(Prefix);
        message.Write(JsonMarshal.GetRawUtf8Value(id));
        message.Write(",\"result\":"u8);
        Write(message, payload.Span, edits);
        WriteEvent(writer, message.WrittenSpan);
        await writer.FlushAsync(http.RequestAborted);
    }

    /// <summary>One SSE <c>message</c> event; a line break between JSON tokens starts another <c>data</c> line (joined back by the reader).</summary>
    private static void WriteEvent(IBufferWriter<byte> writer, ReadOnlySpan<byte> json)
    {
        writer.Write("event: message\ndata: "u8);
        while (json.IndexOfAny((byte)'\r', (byte)'\n') is var at and >= 0)
        {
            writer.Write(json[..at]);
            writer.Write("\ndata: "u8);
            json = json[(at + 1)..];
        }

        writer.Write(json);
        writer.Write("\n\n"u8);
    }

    private static async Task WritePiecesAsync(PipeWriter writer, ReadOnlyMemory<byte> payload, List<ResultEdit>? edits, CancellationToken cancellationToken)
    {
        var at = 0;
        foreach (var edit in edits ?? [])
        {
            await WritePiecesAsync(writer, payload[at..edit.Start], cancellationToken);
            writer.Write(edit.Replacement.Span);
            at = edit.Start + edit.Length;
        }

        await WritePiecesAsync(writer, payload[at..], cancellationToken);
        writer.Write("}"u8);
        await writer.FlushAsync(cancellationToken);
    }

    private static async Task WritePiecesAsync(PipeWriter writer, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        while (bytes.Length > FlushEvery)
        {
            writer.Write(bytes.Span[..FlushEvery]);
            bytes = bytes[FlushEvery..];
            await writer.FlushAsync(cancellationToken);
        }

        writer.Write(bytes.Span);
    }
}
