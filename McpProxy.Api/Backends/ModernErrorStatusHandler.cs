using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using McpProxy.Eras;

namespace McpProxy.Backends;

/// <summary>
/// A 2026-07-28 backend answers some JSON-RPC errors with an HTTP status as well — <c>-32021</c> missing client
/// capability, <c>-32020</c> header mismatch, <c>-32602</c> with 400, <c>-32601</c> with 404 — and the SDK 2.4.0 client
/// reads any non-success status as a transport failure ("HTTP 400"), losing the backend's own error. For the calls the
/// proxy forwards (every method but the era probe and the handshake, whose 400 the SDK inspects itself) a small error
/// body (JSON, or one SSE event) that is a JSON-RPC error is handed to the client as 200, so the caller gets the backend's code and message,
/// as a legacy backend's error reaches it. Anything else (a proxy's HTML 502, a large body) is left as it is.
/// </summary>
internal sealed class ModernErrorStatusHandler : DelegatingHandler
{
    private const int MaxErrorBody = 64 * 1024;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (!MayCarryError(response)
            || request.Method != HttpMethod.Post
            || !IsModern(request)
            || !request.Headers.TryGetValues("Mcp-Method", out var methods)
            || methods.FirstOrDefault() is null or "server/discover" or "initialize"
            || response.Content.Headers.ContentLength > MaxErrorBody)
        {
            return response;
        }

        var body = await ReadBoundedAsync(response.Content, cancellationToken).ConfigureAwait(false);
        var json = response.Content.Headers.ContentType?.MediaType == "text/event-stream" ? FirstEventData(body) : body;
        if (body.Length > MaxErrorBody || !IsJsonRpcError(json))
        {
            response.Content = Replay(body, response.Content.Headers);
            return response;
        }

        var forwarded = new HttpResponseMessage(HttpStatusCode.OK) { RequestMessage = request, Version = response.Version, Content = Replay(body, response.Content.Headers) };
        foreach (var header in response.Headers)
        {
            forwarded.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        response.Dispose();
        return forwarded;
    }

    /// <summary>
    /// A 400 or 404 with a JSON or SSE body: what a 2026-07-28 backend answers some JSON-RPC errors with (the fast path's
    /// send reads such a body as the answer too).
    /// </summary>
    public static bool MayCarryError(HttpResponseMessage response) =>
        response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.NotFound
        && response.Content.Headers.ContentType?.MediaType is "application/json" or "text/event-stream";

    /// <summary>
    /// A 2026-07-28 (or later) request: a legacy session's 404 ("session not found") must stay a 404, which is what makes
    /// the client open a new session.
    /// </summary>
    private static bool IsModern(HttpRequestMessage request) =>
        request.Headers.TryGetValues("MCP-Protocol-Version", out var versions)
        && ModernEra.IsModernVersion(versions.FirstOrDefault()?.Trim());

    /// <summary>The body, or its first <see cref="MaxErrorBody"/> + 1 bytes when it is longer (then it is not an error to rewrite).</summary>
    private static async Task<byte[]> ReadBoundedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        await using var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var buffer = new byte[MaxErrorBody + 1];
        var read = 0;
        while (read < buffer.Length && await stream.ReadAsync(buffer.AsMemory(read), cancellationToken).ConfigureAwait(false) is var n and > 0)
        {
            read += n;
        }

        return buffer.AsSpan(0, read).ToArray();
    }

    private static ByteArrayContent Replay(byte[] body, HttpContentHeaders headers)
    {
        var content = new ByteArrayContent(body);
        foreach (var header in headers)
        {
            content.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        return content;
    }

    /// <summary>The data of the first event of an SSE body (the SDK writes its error as one event).</summary>
    private static byte[] FirstEventData(byte[] body)
    {
        var text = System.Text.Encoding.UTF8.GetString(body);
        var data = new System.Text.StringBuilder();
        foreach (var line in text.Split('\n'))
        {
            var trimmed = line.TrimEnd('\r');
            if (trimmed.StartsWith("data:", StringComparison.Ordinal))
            {
                data.Append(trimmed.AsSpan(5).TrimStart(' ')).Append('\n');
            }
            else if (trimmed.Length == 0 && data.Length > 0)
            {
                break;
            }
        }

        return System.Text.Encoding.UTF8.GetBytes(data.ToString());
    }

    private static bool IsJsonRpcError(byte[] body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            return root.ValueKind == JsonValueKind.Object
                && root.TryGetProperty("jsonrpc", out _)
                && root.TryGetProperty("error", out var error) && error.TryGetProperty("code", out var code) && code.ValueKind == JsonValueKind.Number;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
