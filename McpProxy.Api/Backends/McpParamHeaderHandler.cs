namespace McpProxy.Backends;

/// <summary>
/// Passes the caller's <c>Mcp-Param-*</c> headers through to a modern (2026-07-28) HTTP backend, as the spec asks of
/// intermediaries ("servers that do not recognize an <c>Mcp-Param-{Name}</c> header MUST forward it"). The SDK client
/// computes the headers the backend's own tool schema annotates (<c>x-mcp-header</c>) from the forwarded arguments;
/// those it set win, every other one of the caller's is copied. The tools/call send sets <see cref="Use"/> around the
/// backend call; this handler, on the backends' HttpClient, adds them to that flow's <c>tools/call</c> POST only.
/// </summary>
internal sealed class McpParamHeaderHandler : DelegatingHandler
{
    /// <summary>The prefix of a tool parameter mirrored into a header (2026-07-28, <c>x-mcp-header</c>).</summary>
    public const string Prefix = "Mcp-Param-";

    private static readonly AsyncLocal<IReadOnlyList<KeyValuePair<string, string>>?> s_current = new();

    /// <summary>The caller's <c>Mcp-Param-*</c> headers of an HTTP request, or null when it has none.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>>? Capture(HttpContext? context)
    {
        List<KeyValuePair<string, string>>? found = null;
        if (context is not null)
        {
            foreach (var (name, values) in context.Request.Headers)
            {
                if (name.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase) && name.Length > Prefix.Length)
                {
                    foreach (var value in values)
                    {
                        if (value is not null)
                        {
                            (found ??= []).Add(new(name, value));
                        }
                    }
                }
            }
        }

        return found;
    }

    /// <summary>Sets the headers to pass through for the rest of this async flow; dispose to restore.</summary>
    public static Scope Use(IReadOnlyList<KeyValuePair<string, string>>? headers)
    {
        var previous = s_current.Value;
        s_current.Value = headers;
        return new Scope(previous);
    }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (s_current.Value is { Count: > 0 } headers
            && request.Method == HttpMethod.Post
            && request.Headers.TryGetValues("Mcp-Method", out var method) && method.FirstOrDefault() == "tools/call")
        {
            foreach (var (name, value) in headers)
            {
                if (!request.Headers.Contains(name))
                {
                    request.Headers.TryAddWithoutValidation(name, value);
                }
            }
        }

        return base.SendAsync(request, cancellationToken);
    }

    public readonly struct Scope(IReadOnlyList<KeyValuePair<string, string>>? previous) : IDisposable
    {
        public void Dispose() => s_current.Value = previous;
    }
}
