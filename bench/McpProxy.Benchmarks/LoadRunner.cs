using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using ModelContextProtocol.Client;

namespace McpProxy.Benchmarks;

/// <summary>The client's protocol era: legacy (≤ 2025-11-25, a session per client) or modern (2026-07-28, stateless).</summary>
internal enum Era
{
    Legacy,
    Modern,
}

/// <summary>
/// One row's subject: where the client sends its calls, which tool it names, and how to read the front's and the
/// backend's CPU time and the front's managed allocations (where the front is .NET).
/// </summary>
internal sealed record Target(
    string Name, Era Era, HttpClient Http, Uri Endpoint, string Tool, Func<CpuSnapshot> FrontCpu, Func<CpuSnapshot>? BackendCpu, Func<double> FrontRss,
    Func<Task<double>>? AllocatedBytes = null, InstanceCounter? Instances = null);

internal sealed record RunResult(
    string Target, Era Era, int Concurrency, double CallsPerSecond, double P50Ms, double P99Ms, long Calls, long Errors,
    double FrontCpuMsPer1k, double BackendCpuMsPer1k, double RssMiB, double AllocatedKiBPerCall = double.NaN, int Instances = 0,
    double ClientCpuMsPer1k = double.NaN)
{
    /// <summary>Client, front and backend together: what a call costs the machine these rows share.</summary>
    public double TotalCpuMsPer1k => ClientCpuMsPer1k + FrontCpuMsPer1k + (double.IsNaN(BackendCpuMsPer1k) ? 0 : BackendCpuMsPer1k);

    public static RunResult Failed(string target, Era era, int concurrency) =>
        new(target, era, concurrency, 0, double.NaN, double.NaN, 0, -1, double.NaN, double.NaN, double.NaN);
}

/// <summary>
/// Closed-loop load: N clients, each calling one tool back to back. Legacy clients are the C# SDK's (real sessions over
/// Streamable HTTP); modern clients are raw POSTs with the 2026-07-28 headers and <c>_meta</c>, no initialize, no session.
/// </summary>
internal static class LoadRunner
{
    public const string Payload = "benchmark payload";
    public const string ModernVersion = "2026-07-28";

    public static async Task<RunResult> RunAsync(Target target, int concurrency, TimeSpan warmup, TimeSpan duration)
    {
        var callers = new List<Func<Task<bool>>>();
        var clients = new List<McpClient>();
        try
        {
            if (target.Era == Era.Legacy)
            {
                // Sessions are opened before the clock starts (peers that spawn a child per session pay for it here).
                var arguments = new Dictionary<string, object?> { ["message"] = Payload };
                for (var i = 0; i < concurrency; i += 8)
                {
                    clients.AddRange(await Task.WhenAll(Enumerable.Range(i, Math.Min(8, concurrency - i)).Select(_ => ConnectAsync(target.Endpoint, target.Http))));
                }

                callers.AddRange(clients.Select(client => (Func<Task<bool>>)(async () =>
                {
                    var result = await client.CallToolAsync(target.Tool, arguments);
                    return result.IsError != true && result.Content.Count == 1;
                })));
            }
            else
            {
                var modern = new ModernCaller(target.Http, target.Endpoint, target.Tool);
                callers.AddRange(Enumerable.Range(0, concurrency).Select(_ => (Func<Task<bool>>)modern.CallAsync));
            }

            var latencies = new List<double>[concurrency];
            long errors = 0;
            var measuring = false;
            var stopAt = DateTime.MaxValue;
            using var stop = new CancellationTokenSource();

            var workers = callers.Select((call, index) => Task.Run(async () =>
            {
                var mine = latencies[index] = new List<double>(4096);
                while (!stop.IsCancellationRequested)
                {
                    var started = Stopwatch.GetTimestamp();
                    try
                    {
                        if (!await call())
                        {
                            Interlocked.Increment(ref errors);
                        }
                    }
                    catch (Exception) when (!stop.IsCancellationRequested)
                    {
                        Interlocked.Increment(ref errors);
                    }

                    if (Volatile.Read(ref measuring) && DateTime.UtcNow < stopAt)
                    {
                        mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    }
                }
            })).ToArray();

            await Task.Delay(warmup);
            Interlocked.Exchange(ref errors, 0);
            target.Instances?.Clear();
            var allocatedBefore = target.AllocatedBytes is null ? double.NaN : await target.AllocatedBytes();
            var frontBefore = target.FrontCpu();
            var backendBefore = target.BackendCpu?.Invoke();
            var clientBefore = Participant.CpuTime(Environment.ProcessId); // the load generator: this process
            var clock = Stopwatch.StartNew();
            stopAt = DateTime.UtcNow + duration;
            Volatile.Write(ref measuring, true);
            await Task.Delay(duration);
            clock.Stop();
            var clientCpu = Participant.CpuTime(Environment.ProcessId) - clientBefore;
            var frontCpu = target.FrontCpu().Since(frontBefore);
            var backendCpu = target.BackendCpu is null || backendBefore is null ? TimeSpan.Zero : target.BackendCpu().Since(backendBefore);
            var rss = target.FrontRss();
            var measuredErrors = Interlocked.Read(ref errors);
            var allocatedAfter = target.AllocatedBytes is null ? double.NaN : await target.AllocatedBytes();
            var instances = target.Instances?.Count ?? 0;
            stop.Cancel();
            await Task.WhenAll(workers);

            var all = latencies.SelectMany(l => l).Order().ToArray();
            var calls = Math.Max(1, all.Length);
            return new RunResult(
                target.Name,
                target.Era,
                concurrency,
                all.Length / clock.Elapsed.TotalSeconds,
                Percentile(all, 0.50),
                Percentile(all, 0.99),
                all.Length,
                measuredErrors,
                frontCpu.TotalMilliseconds * 1000 / calls,
                target.BackendCpu is null ? double.NaN : backendCpu.TotalMilliseconds * 1000 / calls,
                rss,
                (allocatedAfter - allocatedBefore) / 1024 / calls,
                instances,
                clientCpu.TotalMilliseconds * 1000 / calls);
        }
        finally
        {
            await Task.WhenAll(clients.Select(c => c.DisposeAsync().AsTask()));
        }
    }

    /// <summary>
    /// A legacy-era client: the SDK's client prefers 2026-07-28 when the server offers it (the proxy and the sample do),
    /// so it is pinned to 2025-11-25 — initialize and a session — which is what the legacy rows measure. (Runs before
    /// 2026-12-01 did not pin it: their "legacy" rows to the proxy and the sample were the SDK's client in 2026-07-28.)
    /// </summary>
    public static Task<McpClient> ConnectAsync(Uri endpoint, HttpClient http) =>
        McpClient.CreateAsync(
            new HttpClientTransport(
                new HttpClientTransportOptions { Endpoint = endpoint, TransportMode = HttpTransportMode.StreamableHttp },
                http,
                ownsHttpClient: false),
            new McpClientOptions { ProtocolVersion = "2025-11-25" });

    /// <summary>Waits until the server at <paramref name="endpoint"/> lists <paramref name="tool"/> (a proxy's backends have connected).</summary>
    public static async Task WaitForToolsAsync(Uri endpoint, HttpClient http, string tool)
    {
        await using var client = await ConnectAsync(endpoint, http);
        for (var i = 0; i < 300; i++)
        {
            if ((await client.ListToolsAsync()).Any(t => t.Name == tool))
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new InvalidOperationException($"{tool} never appeared at {endpoint}");
    }

    public static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    /// <summary>
    /// A 2026-07-28 client as the spec has it: one POST per call with <c>MCP-Protocol-Version</c>, <c>Mcp-Method</c> and
    /// <c>Mcp-Name</c>, the version, client info and capabilities in the request's <c>_meta</c>; no initialize, no session.
    /// The body is built once; a call succeeds when the answer is 200 and carries the echoed text (JSON or SSE).
    /// </summary>
    private sealed class ModernCaller(HttpClient http, Uri endpoint, string tool)
    {
        private static readonly MediaTypeHeaderValue Json = new("application/json");
        private static readonly byte[] Expected = Encoding.UTF8.GetBytes("\"text\":\"" + Payload + "\"");

        private readonly byte[] _body = Encoding.UTF8.GetBytes(
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"" + tool + "\",\"arguments\":{\"message\":\"" + Payload + "\"}," +
            "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"" + ModernVersion + "\",\"io.modelcontextprotocol/clientCapabilities\":{}," +
            "\"io.modelcontextprotocol/clientInfo\":{\"name\":\"mcp-proxy-bench\",\"version\":\"1.0\"}}}}");

        public async Task<bool> CallAsync()
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new ByteArrayContent(_body) };
            request.Content.Headers.ContentType = Json;
            request.Headers.TryAddWithoutValidation("Accept", "application/json, text/event-stream");
            request.Headers.TryAddWithoutValidation("MCP-Protocol-Version", ModernVersion);
            request.Headers.TryAddWithoutValidation("Mcp-Method", "tools/call");
            request.Headers.TryAddWithoutValidation("Mcp-Name", tool);
            using var response = await http.SendAsync(request);
            var body = await response.Content.ReadAsByteArrayAsync();
            return response.StatusCode == HttpStatusCode.OK && body.AsSpan().IndexOf(Expected) >= 0 && !response.Headers.Contains("Mcp-Session-Id");
        }
    }
}

/// <summary>
/// The load balancer of the two-replica rows: a handler under the clients' HttpClient that sends each request to the next
/// endpoint in turn (round robin, no affinity) and counts which replicas answered (<c>X-McpProxy-Instance</c>).
/// </summary>
internal sealed class RoundRobinHandler(IReadOnlyList<Uri> endpoints, InstanceCounter counter) : DelegatingHandler(new SocketsHttpHandler
{
    MaxConnectionsPerServer = int.MaxValue,
    PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
})
{
    private int _next = -1;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var to = endpoints[(int)((uint)Interlocked.Increment(ref _next) % (uint)endpoints.Count)];
        request.RequestUri = new UriBuilder(request.RequestUri!) { Host = to.Host, Port = to.Port }.Uri;
        var response = await base.SendAsync(request, cancellationToken);
        if (response.Headers.TryGetValues("X-McpProxy-Instance", out var values))
        {
            counter.Add(values.First());
        }

        return response;
    }
}

/// <summary>The distinct replicas that answered during a measurement.</summary>
internal sealed class InstanceCounter
{
    private readonly ConcurrentDictionary<string, byte> _seen = new();

    public int Count => _seen.Count;

    public void Add(string instance) => _seen.TryAdd(instance, 0);

    public void Clear() => _seen.Clear();
}
