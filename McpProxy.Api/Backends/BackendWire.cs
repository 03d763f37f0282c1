using ModelContextProtocol.Client;

namespace McpProxy.Backends;

/// <summary>
/// How the fast path reaches an HTTP backend without its MCP client: the endpoint its session was opened on (service
/// discovery resolved once), an HttpClient over the shared pool with the same handlers as the MCP client's own
/// (<see cref="BackendHttp.CreateClient(string, long, Microsoft.Extensions.Logging.ILogger, Action{string})"/>: result size
/// limit, modern error statuses, forwarded caller headers, transport failures reported), and its configured headers.
/// </summary>
internal sealed record BackendWire(Uri Endpoint, HttpClient Http, IReadOnlyDictionary<string, string> Headers);

/// <summary>A backend's Streamable HTTP transport with the <see cref="BackendWire"/> that reaches the same endpoint.</summary>
internal sealed class WiredHttpTransport(HttpClientTransport inner, BackendWire wire) : IClientTransport, IAsyncDisposable
{
    public BackendWire Wire => wire;

    public string Name => inner.Name;

    public Task<ModelContextProtocol.Protocol.ITransport> ConnectAsync(CancellationToken cancellationToken = default) => inner.ConnectAsync(cancellationToken);

    public ValueTask DisposeAsync()
    {
        wire.Http.Dispose();
        return inner is IAsyncDisposable disposable ? disposable.DisposeAsync() : default;
    }
}
