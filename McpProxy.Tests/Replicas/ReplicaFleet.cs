using System.Net.Http.Headers;
using System.Text;
using McpProxy.Tests.Infrastructure;

namespace McpProxy.Tests.Replicas;

/// <summary>
/// N in-process proxies built from one TOML, sharing one real <c>redis-server</c> (<c>ConnectionStrings:cache</c>, as the
/// topology gives it), each on its own port: a fleet of replicas a test addresses one by one.
/// </summary>
internal sealed class ReplicaFleet : IAsyncDisposable
{
    private readonly List<ProxyHost?> _hosts;

    private ReplicaFleet(RedisServer redis, List<ProxyHost?> hosts)
    {
        Redis = redis;
        _hosts = hosts;
    }

    public RedisServer Redis { get; }

    public ProxyHost this[int index] => _hosts[index] ?? throw new InvalidOperationException($"replica {index} was stopped");

    public int Count => _hosts.Count;

    public static async Task<ReplicaFleet> StartAsync(int replicas, string toml)
    {
        var redis = await RedisServer.StartAsync();
        var hosts = new List<ProxyHost?>();
        for (var i = 0; i < replicas; i++)
        {
            hosts.Add(await ProxyHost.StartAsync(toml, configure: b => b.Configuration["ConnectionStrings:cache"] = redis.ConnectionString));
        }

        return new ReplicaFleet(redis, hosts);
    }

    /// <summary>Stops a replica as a crash or scale-in would: whatever it held in memory is gone.</summary>
    public async Task StopAsync(int index)
    {
        var host = _hosts[index];
        _hosts[index] = null;
        if (host is not null)
        {
            await host.DisposeAsync();
        }
    }

    /// <summary>The instance id a replica puts on its responses.</summary>
    public static string InstanceOf(HttpResponseMessage response) => response.Headers.GetValues("X-McpProxy-Instance").Single();

    /// <summary>A raw legacy (2025-11-25) POST on replica <paramref name="index"/>, as the caller with <paramref name="token"/>.</summary>
    public HttpRequestMessage Post(int index, string? session, string json, string? token) => Post(this[index].McpEndpoint, session, json, token);

    /// <inheritdoc cref="Post(int, string?, string, string?)"/>
    public static HttpRequestMessage Post(Uri endpoint, string? session, string json, string? token)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Accept.ParseAdd("application/json, text/event-stream");
        request.Headers.Add("MCP-Protocol-Version", "2025-11-25");
        if (session is not null)
        {
            request.Headers.Add("Mcp-Session-Id", session);
        }

        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return request;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            if (host is not null)
            {
                await host.DisposeAsync();
            }
        }

        await Redis.DisposeAsync();
    }
}

/// <summary>Sends every request of an MCP client to the replica <see cref="Target"/> names, and records who answered.</summary>
internal sealed class ReplicaRouter(Func<Uri> target) : DelegatingHandler(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.Zero })
{
    private readonly List<string> _answeredBy = [];

    public IReadOnlyList<string> AnsweredBy
    {
        get
        {
            lock (_answeredBy)
            {
                return [.. _answeredBy];
            }
        }
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var to = target();
        request.RequestUri = new UriBuilder(request.RequestUri!) { Host = to.Host, Port = to.Port }.Uri;
        var response = await base.SendAsync(request, cancellationToken);
        if (response.Headers.TryGetValues("X-McpProxy-Instance", out var values))
        {
            lock (_answeredBy)
            {
                _answeredBy.Add(values.Single());
            }
        }

        return response;
    }
}
