using System.Buffers;
using System.Diagnostics;
using System.Net.ServerSentEvents;
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
/// framing is the BCL's (<see cref="SseParser"/>).
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

        var body = ArrayPool<byte>.Shared.Rent(raw.Body.Length);
        try
        {
            var length = WithTraceparent(raw, (span ?? Activity.Current)?.Id, body);
            return await SendAsync(wire, call, raw, body.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(body);
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

    private static async ValueTask<object> SendAsync(BackendWire wire, CallContext call, RawCall raw, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, wire.Endpoint) { Content = new ReadOnlyMemoryContent(body) };
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

        using var response = await wire.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException(
                $"Response status code does not indicate success: {(int)response.StatusCode} ({response.ReasonPhrase}).", null, response.StatusCode);
        }

        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            if (response.Content.Headers.ContentType?.MediaType == "text/event-stream")
            {
                await foreach (var item in SseParser.Create(stream, static (_, data) => data.ToArray()).EnumerateAsync(cancellationToken).ConfigureAwait(false))
                {
                    if (Answer(item.Data) is { } answer)
                    {
                        return answer;
                    }
                }

                throw new IOException("The backend's response stream ended before its answer.");
            }

            var message = await ReadAllAsync(stream, response.Content.Headers.ContentLength, cancellationToken).ConfigureAwait(false);
            return Answer(message) ?? throw new IOException("The backend's response was not an answer to its request.");
        }
    }

    /// <summary>The answer in one message: its result, or the error thrown; null for anything else (a notification).</summary>
    private static RawResult? Answer(ReadOnlyMemory<byte> message)
    {
        using var document = JsonDocument.Parse(message);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("id"u8, out _))
        {
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

    private static async ValueTask<ReadOnlyMemory<byte>> ReadAllAsync(Stream stream, long? length, CancellationToken cancellationToken)
    {
        if (length is { } known and <= int.MaxValue)
        {
            var exact = new byte[known];
            await stream.ReadExactlyAsync(exact, cancellationToken).ConfigureAwait(false);
            return exact;
        }

        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy, cancellationToken).ConfigureAwait(false);
        return copy.GetBuffer().AsMemory(0, (int)copy.Length);
    }
}
