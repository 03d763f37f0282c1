using ModelContextProtocol.Client;

namespace McpProxy.Backends;

/// <summary>
/// How the fast path reaches an HTTP backend without its MCP client: the endpoint its session was opened on (service
/// discovery resolved once), an invoker over the fast path's pool (<see cref="BackendHttp.CreateWireClient"/>), its
/// configured headers, <c>[security] max_result_size</c>, which the raw send applies to each message it reads, and where
/// the raw send reports a transport failure (the backend's supervisor, as for the MCP client's requests).
/// </summary>
internal sealed record BackendWire(string Backend, Uri Endpoint, HttpMessageInvoker Http, IReadOnlyDictionary<string, string> Headers, long MaxResultSize, Action<string> OnTransportFailure);

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
