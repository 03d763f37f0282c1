using McpProxy.Configuration;
using ModelContextProtocol.Client;

namespace McpProxy.Backends;

/// <summary>
/// Builds the client transport of one connection attempt to a backend. The seam between a backend's supervision and
/// its wire: the default (<see cref="BackendTransportFactory"/>) spawns stdio children and opens Streamable HTTP
/// sessions; a test may register another (an in-memory server) in place of it.
/// </summary>
internal interface IBackendTransportFactory
{
    /// <param name="backend">The backend to connect to.</param>
    /// <param name="onTransportFailure">
    /// Called when the transport sees a connection-level failure (refused, reset, a gateway's 502/503/504) that may mean
    /// the backend is gone; the supervisor then pings it.
    /// </param>
    /// <param name="cancellationToken">Cancels the attempt.</param>
    ValueTask<IClientTransport> CreateAsync(BackendModel backend, Action<string> onTransportFailure, CancellationToken cancellationToken);
}

/// <summary>
/// The real transports: <see cref="BoundedStdioTransport"/> for <c>transport = "stdio"</c> (a child with its minimal
/// environment, <c>max_result_size</c> per line), <see cref="HttpClientTransport"/> otherwise (on the shared
/// <see cref="BackendHttp"/> pool, after one plain request checked the backend listens).
/// </summary>
internal sealed partial class BackendTransportFactory(ProxyConfig config, BackendHttp http, ILoggerFactory loggerFactory) : IBackendTransportFactory
{
    private static readonly TimeSpan ChildShutdownGrace = TimeSpan.FromSeconds(2);

    private readonly ILogger _logger = loggerFactory.CreateLogger("McpProxy.Backends");

    public async ValueTask<IClientTransport> CreateAsync(BackendModel backend, Action<string> onTransportFailure, CancellationToken cancellationToken) =>
        backend.Config.Transport switch
        {
            BackendTransport.Stdio => new BoundedStdioTransport(StdioOptions(backend.Config), loggerFactory),
            _ => await CreateHttpTransportAsync(backend, onTransportFailure, cancellationToken),
        };

    /// <summary>How a stdio backend's child is started and read.</summary>
    internal BoundedStdioOptions StdioOptions(BackendConfig backend) =>
        new()
        {
            Name = backend.Name,
            Command = backend.Command!,
            Arguments = [.. backend.Args],
            // The child's complete environment: minimal unless inherit_env (ChildEnvironment).
            Environment = ChildEnvironment.For(backend),
            WorkingDirectory = backend.Cwd is { } cwd ? Path.GetFullPath(cwd, config.BaseDirectory) : config.BaseDirectory,
            StandardErrorLine = line => LogBackendStderr(backend.Name, line),
            // On stop a child gets its stdin closed and this long to exit before it is killed.
            ShutdownGrace = ChildShutdownGrace,
            // [security] max_result_size: the longest line read from the child.
            MaxMessageSize = config.Security.MaxResultSize,
        };

    /// <summary>The headers every request to an HTTP backend carries (its <c>bearer_token</c>).</summary>
    internal static Dictionary<string, string> HttpHeaders(BackendConfig backend)
    {
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (!string.IsNullOrEmpty(backend.BearerToken))
        {
            headers["Authorization"] = "Bearer " + backend.BearerToken;
        }

        return headers;
    }

    private async ValueTask<IClientTransport> CreateHttpTransportAsync(BackendModel backend, Action<string> onTransportFailure, CancellationToken cancellationToken)
    {
        var endpoint = await http.ResolveAsync(new Uri(backend.Config.Url!), cancellationToken);
        await EnsureReachableAsync(endpoint, backend.CallTimeout, cancellationToken);
        var headers = HttpHeaders(backend.Config);
        var transport = new HttpClientTransport(
            new HttpClientTransportOptions
            {
                Name = backend.Name,
                Endpoint = endpoint,
                AdditionalHeaders = headers,
                ConnectionTimeout = backend.CallTimeout,
            },
            http.CreateClient(backend.Name, config.Security.MaxResultSize, _logger, onTransportFailure),
            loggerFactory,
            ownsHttpClient: true);

        // The fast path's way to the same endpoint and pool (BackendRawSend).
        return new WiredHttpTransport(transport, new BackendWire(backend.Name, endpoint, http.CreateWireClient(), headers, config.Security.MaxResultSize, onTransportFailure));
    }

    /// <summary>
    /// Before opening an MCP session on an HTTP backend, one plain request (HEAD, any answer will do) checks it listens:
    /// a backend that is not up yet (it starts after the proxy, or is down) is then one clean warning and a retry with
    /// backoff, instead of the SDK's initialization error with a stack trace on every attempt.
    /// </summary>
    private async Task EnsureReachableAsync(Uri endpoint, TimeSpan callTimeout, CancellationToken cancellationToken)
    {
        using var client = http.CreateClient();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(callTimeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Head, endpoint);
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
        }
        catch (HttpRequestException ex)
        {
            throw new HttpRequestException($"not reachable: {ex.Message}", null, ex.StatusCode);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"not reachable: no answer within {callTimeout.TotalSeconds:0.#} s");
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Backend '{Backend}' stderr: {Line}")]
    private partial void LogBackendStderr(string backend, string line);
}
