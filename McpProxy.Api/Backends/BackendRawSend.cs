using System.Buffers;
using System.Diagnostics;
using System.Text.Json;
using McpProxy.Calls;
using McpProxy.Eras;
using McpProxy.Observability;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpProxy.Backends;

/// <summary>
/// The fast path's send (README "Fast path"): one attempt of a <see cref="RawCall"/> as one HTTP POST of its bytes to a
/// modern-era backend (<see cref="BackendWire"/>: the MCP client's endpoint and handlers), and the backend's response —
/// JSON or an SSE stream — read back to the one message that answers it. Its <c>result</c> comes back as a
/// <see cref="RawResult"/> (a slice of the message, not a copy), its <c>error</c> as the exception the typed path's MCP
/// client throws for it (same message, code and data). The backend's notifications on the stream are not for anyone: a
/// fast-path call asks for no progress and no log level. Closing the stream is how a modern backend is told the call
/// was cancelled (2026-07-28), which is what cancelling the request does.
/// </summary>
/// <remarks>
/// Hand-written rather than an MCP client: the SDK's client is the message model the fast path exists to skip; the SSE
/// framing is read in place (<see cref="SseAnswerReader"/>).
/// </remarks>
internal static class BackendRawSend
{
    // ,"traceparent":"…" — the last member of the body's _meta (RawCall).
    private const int TraceparentPrefix = 16;
    private const int TraceparentMember = TraceparentPrefix + RawCall.TraceparentLength + 1;

    public static async ValueTask<object> SendAsync(BackendWire wire, CallContext call, RawCall raw, CancellationToken cancellationToken)
    {
        // The MCP client span of this attempt, as the typed path's SDK client starts one: the backend's span is its child.
        using var span = ProxyDiagnostics.ActivitySource.HasListeners()
            ? ProxyDiagnostics.ActivitySource.StartActivity($"{call.Method} {raw.BackendItem}", ActivityKind.Client)
            : null;
        if (span is not null)
        {
            span.SetTag("mcp.method.name", call.Method);
            span.SetTag("mcp.protocol.version", ModernEra.Version);
            span.SetTag("network.transport", "tcp");
            span.SetTag("mcp_proxy.backend", call.BackendName);
        }

        var body = CallBuffers.Pool.Rent(raw.Body.Length);
        try
        {
            var length = WithTraceparent(raw, span?.Id ?? raw.CallerTraceparent, body);
            using var request = Request(wire, call, raw, body.AsMemory(0, length), span ?? Activity.Current);
            HttpResponseMessage response;
            try
            {
                response = await wire.Http.SendAsync(request, cancellationToken).ConfigureAwait(false); // headers read, content streamed
            }
            catch (HttpRequestException ex)
            {
                wire.OnTransportFailure(ex.Message); // as TransportFailureHandler reports the MCP client's
                throw;
            }

            using var owned = response;
            TransportFailureHandler.ReportGatewayFailure(response, wire.OnTransportFailure);
            var content = response.Content.Headers;
            var sse = content.ContentType?.MediaType == "text/event-stream";
            var failed = !response.IsSuccessStatusCode;
            if (failed && !ModernErrorStatusHandler.MayCarryError(response))
            {
                throw StatusError(response); // a modern backend's 400/404 carries its JSON-RPC error: read as the answer
            }

            if (content.ContentLength > wire.MaxResultSize)
            {
                throw new ResultTooLargeException(wire.Backend, wire.MaxResultSize);
            }

            RawResult? answer;
            try
            {
                answer = await ReadAnswerAsync(wire, call.Connection(), response.Content, sse, content.ContentLength, raw.LogCapacity, cancellationToken).ConfigureAwait(false);
            }
            catch (JsonException) when (failed)
            {
                throw StatusError(response);
            }

            // A modern backend's error status carries its JSON-RPC error, thrown above as the typed path's client throws it.
            return failed || answer is null ? throw StatusError(response) : answer;
        }
        finally
        {
            CallBuffers.Pool.Return(body);
        }
    }

    /// <summary>The body with this attempt's trace context: the placeholder overwritten, or the member cut when nothing traces.</summary>
    private static int WithTraceparent(RawCall raw, string? traceparent, byte[] target)
    {
        var source = raw.Body.Span;
        if (traceparent is { Length: RawCall.TraceparentLength } && System.Text.Ascii.IsValid(traceparent))
        {
            source.CopyTo(target);
            System.Text.Encoding.ASCII.GetBytes(traceparent, target.AsSpan(raw.TraceparentAt + TraceparentPrefix, RawCall.TraceparentLength));
            return source.Length;
        }

        source[..raw.TraceparentAt].CopyTo(target);
        source[(raw.TraceparentAt + TraceparentMember)..].CopyTo(target.AsSpan(raw.TraceparentAt));
        return source.Length - TraceparentMember;
    }

    /// <summary>The attempt's POST: the era's headers, the backend's configured ones, and the trace context.</summary>
    /// <param name="trace">
    /// The activity whose context the request's W3C headers carry, as HttpClient's propagation would put there (the wire's
    /// pool does not propagate by itself: <see cref="BackendHttp.CreateWireClient"/>).
    /// </param>
    private static HttpRequestMessage Request(BackendWire wire, CallContext call, RawCall raw, ReadOnlyMemory<byte> body, Activity? trace)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, wire.Endpoint) { Content = new ReadOnlyMemoryContent(body) };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json");
        var headers = request.Headers;
        headers.TryAddWithoutValidation("Accept", "application/json, text/event-stream");
        headers.TryAddWithoutValidation("MCP-Protocol-Version", ModernEra.Version);
        headers.TryAddWithoutValidation("Mcp-Method", call.Method);
        headers.TryAddWithoutValidation("Mcp-Name", McpHeaderEncoder.EncodeValue(raw.BackendItem) ?? raw.BackendItem);
        foreach (var (name, value) in wire.Headers)
        {
            headers.TryAddWithoutValidation(name, value);
        }

        // Propagated when something traces this request: a span recorded here, or the caller's own trace context (a
        // request nobody traces gets no made-up trace id).
        if (trace is { IdFormat: ActivityIdFormat.W3C } && (trace.Recorded || trace.HasRemoteParent))
        {
            headers.TryAddWithoutValidation("traceparent", trace.Id);
            if (trace.TraceStateString is { Length: > 0 } traceState)
            {
                headers.TryAddWithoutValidation("tracestate", traceState);
            }
        }

        return request;
    }

    private static HttpRequestException StatusError(HttpResponseMessage response) =>
        new($"Response status code does not indicate success: {(int)response.StatusCode} ({response.ReasonPhrase}).", null, response.StatusCode);

    /// <summary>
    /// Reads the response — one JSON message, or SSE events up to the one that answers — each message bounded by
    /// <c>[security] max_result_size</c> as it is read.
    /// </summary>
    /// <param name="backend">Where the backend's other notifications on the stream go (<see cref="BackendConnection.OnFastPathNotification"/>).</param>
    /// <param name="logs">How many of the log notifications sent before the answer to keep for the caller, the newest (<see cref="RawResult.Logs"/>).</param>
    private static async ValueTask<RawResult?> ReadAnswerAsync(
        BackendWire wire, BackendConnection backend, HttpContent content, bool sse, long? length, int logs, CancellationToken cancellationToken)
    {
        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            if (sse)
            {
                var lines = logs > 0 ? new LogLines(logs) : null;
                var answer = await SseAnswerReader.ReadAsync(
                    stream, wire.MaxResultSize, () => new ResultTooLargeException(wire.Backend, wire.MaxResultSize),
                    static (message, state) => Answer(message, state), new AnswerState(backend, lines), cancellationToken)
                    .ConfigureAwait(false);
                if (lines is not null)
                {
                    answer.Logs = lines.Kept;
                    answer.LogsDropped = lines.Dropped;
                }

                return answer;
            }

            if (length is { } known)
            {
                var exact = new byte[known];
                await stream.ReadExactlyAsync(exact, cancellationToken).ConfigureAwait(false);
                return Answer(exact, default);
            }

            using var copy = new MemoryStream();
            await new BodyLimitStream(stream, wire.MaxResultSize, () => new ResultTooLargeException(wire.Backend, wire.MaxResultSize))
                .CopyToAsync(copy, cancellationToken).ConfigureAwait(false);
            return Answer(copy.GetBuffer().AsMemory(0, (int)copy.Length), default);
        }
    }

    /// <summary>Where a call's stream's notifications go: the backend's handling, and the caller's log lines when it keeps them.</summary>
    private readonly record struct AnswerState(BackendConnection? Backend, LogLines? Logs);

    /// <summary>The log notifications a call keeps: the newest <c>capacity</c>, the older ones dropped and counted (as a session's queue does).</summary>
    private sealed class LogLines(int capacity)
    {
        private Queue<byte[]>? _kept;

        public IReadOnlyCollection<byte[]>? Kept => _kept;

        public long Dropped { get; private set; }

        public void Add(byte[] line)
        {
            _kept ??= new Queue<byte[]>();
            if (_kept.Count == capacity)
            {
                _kept.Dequeue();
                Dropped++;
            }

            _kept.Enqueue(line);
        }
    }

    /// <summary>
    /// The answer in one message: its result, or the error thrown; null for anything else. A notification before it is
    /// the caller's log line (kept) or the backend's to handle, as its MCP client would have (a request of its own: a
    /// modern backend sends none).
    /// </summary>
    private static RawResult? Answer(ReadOnlyMemory<byte> message, AnswerState state)
    {
        using var document = JsonDocument.Parse(message);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("id"u8, out _))
        {
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("method"u8, out var method) && method.ValueKind == JsonValueKind.String)
            {
                if (state.Logs is { } logs && method.ValueEquals(NotificationMethods.LoggingMessageNotification))
                {
                    logs.Add(message.ToArray());
                }
                else if (state.Backend is { } backend
                    && JsonSerializer.Deserialize(message.Span, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(JsonRpcMessage))) is JsonRpcNotification notification)
                {
                    backend.OnFastPathNotification(notification);
                }
            }

            return null;
        }

        if (root.TryGetProperty("result"u8, out var result))
        {
            return RawResult.From(result, message);
        }

        if (root.TryGetProperty("error"u8, out var error))
        {
            throw RemoteError(error);
        }

        return null; // a request of the backend's own: a modern backend sends none
    }

    /// <summary>The backend's JSON-RPC error as the typed path's MCP client throws it: its words, its code, its data.</summary>
    private static McpProtocolException RemoteError(JsonElement error)
    {
        var code = error.TryGetProperty("code"u8, out var c) && c.TryGetInt32(out var value) ? value : (int)McpErrorCode.InternalError;
        var message = error.TryGetProperty("message"u8, out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
        var exception = new McpProtocolException($"Request failed (remote): {message}", (McpErrorCode)code);
        if (error.TryGetProperty("data"u8, out var data) && data.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in data.EnumerateObject())
            {
                object? item = property.Value.ValueKind switch
                {
                    JsonValueKind.String => property.Value.GetString(),
                    JsonValueKind.Number => property.Value.GetDouble(),
                    JsonValueKind.True => true,
                    JsonValueKind.False => false,
                    JsonValueKind.Null => null,
                    _ => property.Value.Clone(),
                };
                exception.Data[property.Name] = item;
            }
        }

        return exception;
    }
}
