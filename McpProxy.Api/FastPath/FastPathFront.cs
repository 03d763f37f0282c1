using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using System.Text.Json;
using McpProxy.Calls;
using McpProxy.Configuration;
using McpProxy.Eras;
using McpProxy.Observability;
using McpProxy.Pipeline;
using McpProxy.Routing;
using Microsoft.Extensions.Primitives;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpProxy.FastPath;

/// <summary>
/// The fast path's front (README "Fast path"): a 2026-07-28 <c>tools/call</c>, <c>prompts/get</c> or <c>resources/read</c>
/// to a modern-era HTTP backend is taken without the SDK's message model. The request is recognised by its
/// <c>Mcp-Method</c>/<c>Mcp-Name</c> headers — the spec added them for exactly this — and checked against its body, read
/// once with <see cref="JsonDocument"/> over a pooled buffer; it is routed by <see cref="CallRouter.Fast"/>, runs through
/// the same pipeline as every call (<see cref="ProxyPipeline"/>: mirror, telemetry and audit, cache, coalescing, drain,
/// resilience), reaches the backend as bytes with its name spliced in (<c>Backends.BackendRawSend</c>), and its result
/// goes back as the backend's bytes under the caller's id (a resource's URIs namespaced).
/// </summary>
/// <remarks>
/// Anything else takes the typed path, unchanged and with its own answers: a legacy session's requests (the SDK keeps
/// their session: idle timer, owner, resumable stream), a request the SDK would refuse (headers that do not match the
/// body, missing per-request <c>_meta</c>, a batch, unknown params), a call that asks for progress or a log level, a
/// Multi Round-Trip retry, an item the caller may not use or that does not exist, a backend without a fast way. A
/// backend that answers <c>input_required</c> hands the call to the typed path, which runs its rounds (a new request for
/// the backend: a client may always start over, spec "Multi Round-Trip Requests").
/// </remarks>
internal sealed class FastPathFront(CallRouter router, ProxyPipeline pipeline, ProxyCatalog catalog, ProxyConfig config)
{
    private static ReadOnlySpan<byte> Prefix => "{\"jsonrpc\":\"2.0\",\"id\":"u8;

    // The proxy as the server of every result, as the SDK's server names itself on modern results.
    private readonly byte[] _serverInfo = JsonSerializer.SerializeToUtf8Bytes(
        new Implementation { Name = config.Proxy.Name, Version = config.Proxy.Version }, McpJsonUtilities.DefaultOptions);

    private readonly string _path = config.Proxy.Listen.Path;

    // A request it does not take passes on without an await of its own (a legacy session's GET stream would otherwise hold
    // this method's state for as long as it lasts).
    public Task InvokeAsync(HttpContext http, RequestDelegate next) =>
        IsCandidate(http.Request, out var method, out var name, out var length) ? TakeAsync(http, next, method, name, length) : next(http);

    private async Task TakeAsync(HttpContext http, RequestDelegate next, string method, string name, int length)
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

            if (document is null || !TryRead(document.RootElement, method, name, out var id, out var parameters)
                || router.Fast(method, name, parameters, JsonMarshal.GetRawUtf8Value(parameters).Length, Caller(http)) is not { } call)
            {
                await TypedAsync(http, next, body);
                return;
            }

            object result;
            var started = ServerOperationMetric.Enabled ? Stopwatch.GetTimestamp() : 0;
            using var span = StartServerSpan(method, name, parameters);
            try
            {
                result = await pipeline.CallAsync(call, http.RequestAborted);
            }
            catch (OperationCanceledException ex) when (http.RequestAborted.IsCancellationRequested)
            {
                Measured(started, method, name, ex);
                return; // the caller closed its stream: that is how a modern call is cancelled, and the backend's was closed too
            }
            catch (Exception ex)
            {
                Measured(started, method, name, ex);
                await WriteAsync(http, id, Error(ex), ErrorStatus(ex), isError: true);
                return;
            }

            if (result is RawResult { InputRequired: true })
            {
                await TypedAsync(http, next, body); // measured by the SDK's server, which answers it
                return;
            }

            Measured(started, method, name, failure: null, toolError: !CallContext.Succeeded(result));
            var (json, edits) = Result(call, result);
            await WriteAsync(http, id, json, StatusCodes.Status200OK, edits: edits);
        }
        finally
        {
            document?.Dispose();
            CallBuffers.Pool.Return(buffer);
        }
    }

    /// <summary>The call in <c>mcp.server.operation.duration</c>, with the attributes the SDK's server gives it.</summary>
    private static void Measured(long started, string method, string name, Exception? failure, bool toolError = false)
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
        ServerOperationMetric.Record(started, method, name, ModernEra.Version, errorType, rpcError);
    }

    /// <summary>
    /// The server span of the caller's call, as the SDK's server starts one for the typed path: named
    /// <c>{method} {target}</c>, a child of the trace context in the request's <c>_meta</c> when it has one.
    /// </summary>
    private static Activity? StartServerSpan(string method, string name, JsonElement parameters)
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
        span?.SetTag("mcp.protocol.version", ModernEra.Version);
        span?.SetTag("network.transport", "tcp");
        span?.SetTag("mcp_proxy.fast_path", true);
        return span;
    }

    private static readonly System.Security.Claims.ClaimsPrincipal Anonymous = new(new System.Security.Claims.ClaimsIdentity());

    /// <summary>The authenticated caller, or one shared anonymous principal (not a new one per request, as <c>HttpContext.User</c> makes).</summary>
    private static System.Security.Claims.ClaimsPrincipal Caller(HttpContext http) =>
        http.Features.Get<Microsoft.AspNetCore.Http.Features.Authentication.IHttpAuthenticationFeature>()?.User ?? Anonymous;

    /// <summary>The headers say it is a modern call the fast path may take; the body is read only then.</summary>
    private bool IsCandidate(HttpRequest request, out string method, out string name, out int length)
    {
        method = name = "";
        length = 0;
        var headers = request.Headers;
        if (!HttpMethods.IsPost(request.Method)
            || !request.Path.Equals(_path, StringComparison.OrdinalIgnoreCase)
            || request.ContentLength is { } declared && (declared <= 0 || declared > config.Security.MaxArgumentSize)
            || headers["MCP-Protocol-Version"] is not [ModernEra.Version]
            || headers.ContainsKey("Mcp-Session-Id")
            || headers["Mcp-Method"] is not [{ } methodHeader]
            || methodHeader is not (RequestMethods.ToolsCall or RequestMethods.PromptsGet or RequestMethods.ResourcesRead)
            || headers["Mcp-Name"] is not [{ Length: > 0 } nameHeader]
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

        method = methodHeader;
        name = McpHeaderEncoder.DecodeValue(nameHeader) ?? nameHeader;
        length = (int)(request.ContentLength ?? 0);
        return true;
    }

    /// <summary>Reads a body of unknown length into a pooled buffer that grows as needed (bodies this path takes fit the first).</summary>
    private static async Task<(byte[] Buffer, int Length)> ReadToEndAsync(Stream body, byte[] buffer, CancellationToken cancellationToken)
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
    private static bool TryRead(JsonElement root, string method, string name, out JsonElement id, out JsonElement parameters)
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
            && IsPlainCall(parameters, method, name);
    }

    private static bool IsPlainCall(JsonElement parameters, string method, string name)
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
                if (meta || !IsPlainMeta(property.Value))
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

        return item && meta;
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
    private (ReadOnlyMemory<byte> Json, List<ResultEdit> Edits) Result(CallContext call, object result)
    {
        var raw = result as RawResult ?? RawResult.FromTyped(result);
        var backend = call.BackendName;
        return (raw.Json, ResultEdits.Of(raw, _serverInfo, call.Method == RequestMethods.ResourcesRead ? uri => catalog.Namespace(backend, uri) : null));
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

    private static void Write(PipeWriter writer, ReadOnlySpan<byte> payload, List<ResultEdit>? edits)
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
