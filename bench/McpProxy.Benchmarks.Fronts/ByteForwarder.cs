using System.Buffers;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Primitives;

namespace McpProxy.Benchmarks.Fronts;

/// <summary>
/// A minimal MCP-aware byte forwarder, the floor McpProxy's per-call cost is compared with: it reads a POST body's
/// <c>method</c> and <c>params.name</c> with <see cref="Utf8JsonReader"/> (no message model), routes <c>tools/call</c> and
/// <c>prompts/get</c> by the name's <c>backend/</c> prefix, splices the prefix out of the bytes in place, checks and
/// rewrites a modern client's <c>Mcp-Name</c> header the same way, and streams the backend's response (JSON or SSE)
/// back as it comes. Everything else (initialize, notifications, GET streams, DELETE; the legacy session header) passes
/// through to the first route unchanged. No policies, no telemetry: a floor, not a product.
/// </summary>
internal sealed class ByteForwarder(IReadOnlyList<(string Name, Uri Endpoint)> routes)
{
    private static readonly HttpMessageInvoker Client = new(new SocketsHttpHandler
    {
        UseCookies = false,
        UseProxy = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        MaxConnectionsPerServer = int.MaxValue,
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        ActivityHeadersPropagator = null,
    });

    private static readonly HashSet<string> HopHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Host", "Content-Length", "Content-Type", "Connection", "Transfer-Encoding", "Keep-Alive", "Expect", "Mcp-Name",
    };

    private readonly (byte[] Prefix, string PrefixText, Uri Endpoint)[] _routes =
        [.. routes.Select(r => (Encoding.UTF8.GetBytes(r.Name + "/"), r.Name + "/", r.Endpoint))];

    public async Task ForwardAsync(HttpContext context)
    {
        var request = context.Request;
        var endpoint = _routes[0].Endpoint;
        byte[]? rented = null;
        try
        {
            using var outgoing = new HttpRequestMessage(new HttpMethod(request.Method), endpoint);
            var name = request.Headers["Mcp-Name"];
            if (HttpMethods.IsPost(request.Method))
            {
                var length = 0;
                rented = ArrayPool<byte>.Shared.Rent((int)(request.ContentLength ?? 4096));
                int read;
                while ((read = await request.Body.ReadAsync(rented.AsMemory(length), context.RequestAborted)) > 0)
                {
                    length += read;
                    if (length == rented.Length)
                    {
                        var larger = ArrayPool<byte>.Shared.Rent(rented.Length * 2);
                        rented.AsSpan(0, length).CopyTo(larger);
                        ArrayPool<byte>.Shared.Return(rented);
                        rented = larger;
                    }
                }

                if (FindRoutedName(rented.AsSpan(0, length), out var start, out var nameLength))
                {
                    var bodyName = rented.AsSpan(start, nameLength);
                    if (!StringValues.IsNullOrEmpty(name) && !Matches(name.ToString(), bodyName))
                    {
                        await RefuseAsync(context, "Mcp-Name header does not match params.name");
                        return;
                    }

                    foreach (var route in _routes)
                    {
                        if (bodyName.StartsWith(route.Prefix))
                        {
                            // Splice: drop the prefix from the bytes in place, and from the header.
                            rented.AsSpan(start + route.Prefix.Length, length - start - route.Prefix.Length).CopyTo(rented.AsSpan(start));
                            length -= route.Prefix.Length;
                            endpoint = route.Endpoint;
                            outgoing.RequestUri = endpoint;
                            if (!StringValues.IsNullOrEmpty(name))
                            {
                                name = name.ToString()[route.PrefixText.Length..];
                            }

                            break;
                        }
                    }
                }

                outgoing.Content = new ByteArrayContent(rented, 0, length);
                if (request.ContentType is { } contentType)
                {
                    outgoing.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
                }
            }

            foreach (var (key, value) in request.Headers)
            {
                if (!HopHeaders.Contains(key))
                {
                    outgoing.Headers.TryAddWithoutValidation(key, value.Count == 1 ? [value.ToString()] : (IEnumerable<string>)value.ToArray()!);
                }
            }

            if (!StringValues.IsNullOrEmpty(name))
            {
                outgoing.Headers.TryAddWithoutValidation("Mcp-Name", name.ToString());
            }

            using var response = await Client.SendAsync(outgoing, context.RequestAborted);
            context.Response.StatusCode = (int)response.StatusCode;
            Copy(response.Headers, context.Response.Headers);
            Copy(response.Content.Headers, context.Response.Headers);
            await using var body = await response.Content.ReadAsStreamAsync(context.RequestAborted);
            await body.CopyToAsync(context.Response.Body, context.RequestAborted);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away (a GET stream closed): nothing to answer.
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// For a <c>tools/call</c> or <c>prompts/get</c> request, where its <c>params.name</c> string starts (after the quote)
    /// and how long it is; false for other methods, batches and escaped names (those pass through untouched).
    /// </summary>
    internal static bool FindRoutedName(ReadOnlySpan<byte> json, out int start, out int length)
    {
        start = -1;
        length = 0;
        var named = false;
        var reader = new Utf8JsonReader(json);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read())
            {
                if (reader.TokenType != JsonTokenType.PropertyName)
                {
                    continue;
                }

                if (reader.CurrentDepth == 1 && reader.ValueTextEquals("method"u8))
                {
                    reader.Read();
                    named = reader.TokenType == JsonTokenType.String && (reader.ValueTextEquals("tools/call"u8) || reader.ValueTextEquals("prompts/get"u8));
                }
                else if (reader.CurrentDepth == 1 && reader.ValueTextEquals("params"u8))
                {
                    // Step into params: its properties are the depth-2 names met next.
                }
                else if (reader.CurrentDepth == 2 && reader.ValueTextEquals("name"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped)
                    {
                        start = (int)reader.TokenStartIndex + 1;
                        length = reader.ValueSpan.Length;
                    }
                }
                else
                {
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            return false;
        }

        return named && start >= 0;
    }

    private static bool Matches(string header, ReadOnlySpan<byte> name)
    {
        Span<byte> buffer = stackalloc byte[256];
        return Encoding.UTF8.GetByteCount(header) <= buffer.Length
            ? name.SequenceEqual(buffer[..Encoding.UTF8.GetBytes(header, buffer)])
            : name.SequenceEqual(Encoding.UTF8.GetBytes(header));
    }

    private static Task RefuseAsync(HttpContext context, string message)
    {
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32020,\"message\":\"" + message + "\"}}");
    }

    private static void Copy(System.Net.Http.Headers.HttpHeaders from, IHeaderDictionary to)
    {
        foreach (var (key, values) in from)
        {
            if (!key.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) && !key.Equals("Connection", StringComparison.OrdinalIgnoreCase) && !key.Equals("Keep-Alive", StringComparison.OrdinalIgnoreCase))
            {
                to[key] = values is string[] array ? new StringValues(array) : new StringValues([.. values]);
            }
        }
    }
}
