using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using McpProxy.Benchmarks;
using ModelContextProtocol.Client;

// McpProxy benchmark: tools/call of the sample's echo over Streamable HTTP, direct vs. through McpProxy vs. the npm
// peers, for legacy-era (sessions, the SDK's client) and modern-era (2026-07-28, stateless raw POSTs) clients, at
// several concurrencies, all in one run on loopback; figures reported as ratios to the direct call.
//   dotnet run -c Release --project bench/McpProxy.Benchmarks -- [--duration 4] [--warmup 1] [--prewarm 6] [--concurrency 1,16,64]
//                                                                  [--out docs/benchmarks.md] [--no-peers] [--no-replicas] [--no-floors]
//                                                                  [--no-memory] [--fast-path-ab] [--proxy-env KEY=VALUE]
// A quick check of the whole run: --duration 1 --prewarm 1 --concurrency 16 --out /tmp/bench.md
var runClock = Stopwatch.StartNew();
var options = BenchOptions.Parse(args);
var repo = FindRepoRoot();
var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name; // bin/<Configuration>/net10.0
var sampleDll = Path.Combine(repo, "McpProxy.Backends.Sample", "bin", configuration, "net10.0", "McpProxy.Backends.Sample.dll");
var proxyDll = Path.Combine(repo, "McpProxy.Api", "bin", configuration, "net10.0", "McpProxy.Api.dll");
var frontsDll = Path.Combine(repo, "bench", "McpProxy.Benchmarks.Fronts", "bin", configuration, "net10.0", "McpProxy.Benchmarks.Fronts.dll");
var nodeModules = Path.Combine(repo, "node_modules");
var work = Directory.CreateTempSubdirectory("mcp-proxy-bench-").FullName;
var stdioCommand = $"dotnet {sampleDll} --stdio";

using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5) })
{
    Timeout = TimeSpan.FromSeconds(60),
};

Console.WriteLine($"McpProxy benchmark ({configuration}): {options.Duration.TotalSeconds:0} s per run after {options.Warmup.TotalSeconds:0} s warm-up, concurrency {string.Join(", ", options.Concurrency)}");
Console.WriteLine(Machine());
var loadBefore = LoadAverage();

var participants = new List<Participant>();
// Stopped from outside (SIGTERM, Ctrl+C): the servers it started go with it.
AppDomain.CurrentDomain.ProcessExit += (_, _) => { foreach (var p in participants.ToArray()) { p.Kill(); } };
Console.CancelKeyPress += (_, _) => { foreach (var p in participants.ToArray()) { p.Kill(); } };
var results = new List<RunResult>();
var fastPathOffRuns = false;
try
{
    var samplePort = Participant.FreePort();
    var sample = await Participant.StartAsync("sample (direct)", "dotnet", [sampleDll, "--urls", $"http://127.0.0.1:{samplePort}"], samplePort);
    participants.Add(sample);

    var proxyPort = Participant.FreePort();
    var config = await ProxyToml.WriteAsync(
        work,
        "bench.toml",
        proxyPort,
        ProxyToml.HttpBackend(sample.Endpoint) + $"""
            [[backends]]
            name = "stdio"
            transport = "stdio"
            command = "dotnet"
            args = ["{sampleDll}", "--stdio"]
            """,
        "[proxy.sessions]\nmax_sessions_per_caller = 10000 # the idle-sessions measurement opens 1,000 from one address");
    var proxy = await Participant.StartAsync("McpProxy", "dotnet", [proxyDll, "--config", config], proxyPort, env: options.ProxyEnv);
    participants.Add(proxy);
    await LoadRunner.WaitForToolsAsync(proxy.Endpoint, http, "stdio/echo");

    // Each row: a target (what the client calls, which tool, whose CPU is the front's and whose the backend's) and an era.
    var targets = new List<Target>
    {
        Direct(Era.Legacy),
        Direct(Era.Modern),
        Proxied("McpProxy → HTTP backend", Era.Legacy, "http/echo", sample.CpuTime),
        Proxied("McpProxy → HTTP backend", Era.Modern, "http/echo", sample.CpuTime),
        Proxied("McpProxy → stdio backend", Era.Legacy, "stdio/echo", proxy.DescendantsCpuTime),
    };

    Target Direct(Era era) => new("direct (sample HTTP)", era, http, sample.Endpoint, "echo", sample.CpuTime, null, sample.RssMiB);
    Target Proxied(string name, Era era, string tool, Func<CpuSnapshot> backendCpu) =>
        new(name, era, http, proxy.Endpoint, tool, proxy.CpuTime, backendCpu, proxy.RssMiB, () => ProxyMetrics.AllocatedBytesAsync(proxy, http));

    if (options.FastPathAb)
    {
        // The same proxy with the MCP-aware fast path switched off for its HTTP backend (fast_path = false, issue 16):
        // its rows sit next to the default ones. A proxy that does not know the key refuses the config: the rows are
        // then left out and the run carries on.
        var offPort = Participant.FreePort();
        var offConfig = await ProxyToml.WriteAsync(work, "fast-path-off.toml", offPort, ProxyToml.HttpBackend(sample.Endpoint, "fast_path = false"));
        try
        {
            var off = await Participant.StartAsync("McpProxy (fast path off)", "dotnet", [proxyDll, "--config", offConfig], offPort, env: options.ProxyEnv);
            participants.Add(off);
            await LoadRunner.WaitForToolsAsync(off.Endpoint, http, "http/echo");
            fastPathOffRuns = true;
            foreach (var era in new[] { Era.Legacy, Era.Modern })
            {
                targets.Insert(targets.FindLastIndex(t => t.Name == "McpProxy → HTTP backend") + 1,
                    new(Report.FastPathOff, era, http, off.Endpoint, "http/echo", off.CpuTime, sample.CpuTime, off.RssMiB, () => ProxyMetrics.AllocatedBytesAsync(off, http)));
            }
        }
        catch (InvalidOperationException ex)
        {
            Console.WriteLine($"  --fast-path-ab: the proxy did not start with fast_path = false ({ex.Message}); its rows are left out");
        }
    }

    if (options.Floors)
    {
        // The two floors of issue 16, in front of the same backend: YARP (a transparent HTTP hop: the client names the
        // backend's own tool) and our minimal MCP-aware byte forwarder (routes and splices "http/echo" like McpProxy).
        var yarpPort = Participant.FreePort();
        var yarp = await Participant.StartAsync("YARP", "dotnet", [frontsDll, "yarp", "--port", yarpPort.ToString(CultureInfo.InvariantCulture), "--backend", new Uri(sample.Endpoint, "/").ToString()], yarpPort);
        participants.Add(yarp);
        var fwdPort = Participant.FreePort();
        var forwarder = await Participant.StartAsync("byte forwarder", "dotnet", [frontsDll, "forward", "--port", fwdPort.ToString(CultureInfo.InvariantCulture), "--route", $"http={sample.Endpoint}"], fwdPort);
        participants.Add(forwarder);
        foreach (var era in new[] { Era.Legacy, Era.Modern })
        {
            targets.Add(new(Report.Yarp, era, http, yarp.Endpoint, "echo", yarp.CpuTime, sample.CpuTime, yarp.RssMiB, () => FrontAllocatedBytesAsync(yarp, http)));
            targets.Add(new(Report.Forwarder, era, http, forwarder.Endpoint, "http/echo", forwarder.CpuTime, sample.CpuTime, forwarder.RssMiB, () => FrontAllocatedBytesAsync(forwarder, http)));
        }
    }

    if (options.Replicas)
    {
        // Two proxy replicas sharing one redis-server (legacy sessions migrate between them through it), behind a
        // round-robin front with no affinity: the load generator's HTTP handler sends each request to the next replica.
        var redisPort = Participant.FreePort();
        var redis = await Participant.StartAsync("redis-server", "redis-server", ["--port", redisPort.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], redisPort);
        participants.Add(redis);
        var replicas = new List<Participant>();
        for (var i = 0; i < 2; i++)
        {
            var port = Participant.FreePort();
            var path = await ProxyToml.WriteAsync(work, $"replica{i}.toml", port, ProxyToml.HttpBackend(sample.Endpoint));
            var replica = await Participant.StartAsync($"McpProxy replica {i + 1}", "dotnet", [proxyDll, "--config", path], port,
                env: new Dictionary<string, string>(options.ProxyEnv) { ["ConnectionStrings__cache"] = $"127.0.0.1:{redisPort}" });
            participants.Add(replica);
            replicas.Add(replica);
            await LoadRunner.WaitForToolsAsync(replica.Endpoint, http, "http/echo");
        }

        var instances = new InstanceCounter();
        var balanced = new HttpClient(new RoundRobinHandler([.. replicas.Select(r => r.Endpoint)], instances)) { Timeout = TimeSpan.FromSeconds(60) };
        foreach (var era in new[] { Era.Legacy, Era.Modern })
        {
            targets.Add(new("McpProxy ×2 replicas (Redis, round robin) → HTTP backend", era, balanced, replicas[0].Endpoint, "http/echo",
                () => CpuSnapshot.Combine(replicas.Select(r => r.CpuTime()).Append(redis.CpuTime())), sample.CpuTime, () => replicas.Sum(r => r.RssMiB()), // front: both replicas + their Redis
                async () => (await Task.WhenAll(replicas.Select(r => ProxyMetrics.AllocatedBytesAsync(r, http)))).Sum(), instances));
        }
    }

    if (options.Peers)
    {
        var sgPort = Participant.FreePort();
        var supergateway = await Participant.StartAsync("supergateway", "node",
            [Path.Combine(nodeModules, "supergateway", "dist", "index.js"), "--stdio", stdioCommand, "--outputTransport", "streamableHttp", "--stateful", "--port", sgPort.ToString(CultureInfo.InvariantCulture), "--logLevel", "none"],
            sgPort);
        participants.Add(supergateway);
        targets.Add(new("supergateway → stdio", Era.Legacy, http, supergateway.Endpoint, "echo", supergateway.CpuTime, supergateway.DescendantsCpuTime, supergateway.RssMiB));

        var mpPort = Participant.FreePort();
        var npmProxy = await Participant.StartAsync("mcp-proxy (npm)", "node",
            [Path.Combine(nodeModules, "mcp-proxy", "dist", "bin", "mcp-proxy.mjs"), "--port", mpPort.ToString(CultureInfo.InvariantCulture), "--host", "127.0.0.1", "--", "dotnet", sampleDll, "--stdio"],
            mpPort);
        participants.Add(npmProxy);
        targets.Add(new("mcp-proxy (npm) → stdio", Era.Legacy, http, npmProxy.Endpoint, "echo", npmProxy.CpuTime, npmProxy.DescendantsCpuTime, npmProxy.RssMiB));
    }

    // Rows: the direct call, the two floors, then McpProxy and the peers.
    static int Rank(Target t) => t.Name.StartsWith("direct", StringComparison.Ordinal) ? 0 : t.Name is Report.Yarp or Report.Forwarder ? 1 : 2;

    // Every front is warmed up once before any row is measured, so the runtime's tier-up compilation (which runs on a
    // background thread and would be billed to the front's CPU) is done: a large process like the proxy needs longer.
    if (options.Prewarm > TimeSpan.Zero)
    {
        Console.WriteLine($"  pre-warming every target for {options.Prewarm.TotalSeconds:0} s at concurrency 16 ...");
        foreach (var target in targets)
        {
            try
            {
                await LoadRunner.RunAsync(target, 16, options.Prewarm, TimeSpan.FromMilliseconds(100));
            }
            catch (Exception ex)
            {
                Console.WriteLine($"  pre-warm of {target.Name} ({target.Era}) failed: {ex.GetType().Name}: {ex.Message}");
            }
        }
    }

    foreach (var concurrency in options.Concurrency)
    {
        // Legacy and modern rows of a target side by side.
        foreach (var target in targets.OrderBy(Rank).ThenBy(t => targets.FindIndex(o => o.Name == t.Name)).ThenBy(t => t.Era))
        {
            Console.Write($"  {target.Name,-26} {target.Era,-6} c={concurrency,-3} ... ");
            try
            {
                var result = await LoadRunner.RunAsync(target, concurrency, options.Warmup, options.Duration);
                results.Add(result);
                Console.WriteLine($"{result.CallsPerSecond,9:0} calls/s  p50 {result.P50Ms,7:0.000} ms  p99 {result.P99Ms,7:0.000} ms  front {result.FrontCpuMsPer1k,6:0} ms/1k  backend {result.BackendCpuMsPer1k,6:0} ms/1k  client {result.ClientCpuMsPer1k,6:0} ms/1k  errors {result.Errors}" +
                    (double.IsNaN(result.AllocatedKiBPerCall) ? "" : $"  alloc {result.AllocatedKiBPerCall:0.0} KiB/call") +
                    (result.Instances > 0 ? $"  instances {result.Instances}" : ""));
            }
            catch (Exception ex)
            {
                Console.WriteLine($"failed: {ex.GetType().Name}: {ex.Message}");
                results.Add(RunResult.Failed(target.Name, target.Era, concurrency));
            }
        }
    }

    var loadAfter = LoadAverage();
    var extras = new Extras();
    if (options.Memory)
    {
        // The load rows' servers are stopped first: the memory probes start fresh proxies and want the cores.
        foreach (var participant in participants.Where(p => p != sample).ToArray())
        {
            participants.Remove(participant);
            await participant.DisposeAsync();
        }

        var idle = await MemoryProbes.IdleSessionsAsync(proxyDll, config, http, participants, options.ProxyEnv);
        Console.WriteLine($"  idle sessions: {idle.RssMiBPer1000:0.0} MiB RSS, {idle.HeapMiBPer1000:0.0} MiB GC heap per 1,000 sessions");
        var large = new List<LargeResultResult>();
        foreach (var (era, off) in new[] { (Era.Legacy, false), (Era.Modern, false) }.Concat(fastPathOffRuns ? [(Era.Legacy, true), (Era.Modern, true)] : []))
        {
            var l = await MemoryProbes.LargeResultAsync(era, proxyDll, sample.Endpoint, work, http, participants, options.ProxyEnv, fastPathOff: off);
            large.Add(l);
            Console.WriteLine($"  {l.ResultBytes / 1048576} MiB result, {era}{(off ? ", fast path off" : "")}: peak RSS +{l.PeakRssIncreaseBytes / 1048576:0.0} MiB ({l.PeakRatio:0.00}x), allocated {l.AllocatedBytes / 1048576:0.0} MiB ({l.AllocatedRatio:0.00}x){(l.Error is null ? "" : " — " + l.Error)}");
        }

        var (listDirect, listProxy) = await ToolsListAsync(sampleDll, proxyDll, work, http, participants);
        Console.WriteLine($"  tools/list, 10 backends x 50 tools: p50 {listProxy.P50:0.000} ms / p99 {listProxy.P99:0.000} ms (one backend directly: p50 {listDirect.P50:0.000} ms)");
        extras = new Extras(idle, large, listDirect, listProxy);
    }

    var table = Report.Markdown(results, extras with { RunTime = runClock.Elapsed }, options, Machine() + $"; load average (1 min) {loadBefore} before the rows, {loadAfter} after them");
    Console.WriteLine();
    Console.WriteLine(table);
    if (options.Out is { } outPath)
    {
        // The hand-written "Reading the numbers" section of an existing report is kept below the new table.
        var target = Path.IsPathRooted(outPath) ? outPath : Path.Combine(repo, outPath);
        var previous = File.Exists(target) ? await File.ReadAllTextAsync(target) : "";
        var notesAt = previous.IndexOf("\n## Reading the numbers", StringComparison.Ordinal);
        await File.WriteAllTextAsync(target, notesAt < 0 ? table : table.TrimEnd() + "\n" + previous[notesAt..]);
        Console.WriteLine($"written to {outPath}");
    }
}
finally
{
    foreach (var participant in participants)
    {
        await participant.DisposeAsync();
    }

    Directory.Delete(work, recursive: true);
}

return 0;

// A floor's managed allocations so far (its own GC.GetTotalAllocatedBytes).
static async Task<double> FrontAllocatedBytesAsync(Participant front, HttpClient http) =>
    double.Parse(await http.GetStringAsync(new Uri(front.Endpoint, "/_bench/allocated")), CultureInfo.InvariantCulture);

// The 1-minute load average: how busy the machine was (other work shares these cores).
static string LoadAverage() => File.ReadAllText("/proc/loadavg").Split(' ')[0];

// tools/list through a proxy with 10 backends of 50 extra tools each (one sample HTTP server, ten sessions to it).
static async Task<((double P50, double P99) Direct, (double P50, double P99) Proxy)> ToolsListAsync(
    string sampleDll, string proxyDll, string work, HttpClient http, List<Participant> participants)
{
    var samplePort = Participant.FreePort();
    var sample = await Participant.StartAsync("sample (50 tools)", "dotnet", [sampleDll, "--urls", $"http://127.0.0.1:{samplePort}", "--tools-count", "50"], samplePort);
    participants.Add(sample);
    var port = Participant.FreePort();
    var config = new StringBuilder($"[proxy]\nname = \"bench-list\"\n[proxy.listen]\nport = {port}\n[observability]\nlog_level = \"warn\"\n");
    for (var i = 0; i < 10; i++)
    {
        config.Append(CultureInfo.InvariantCulture, $"\n[[backends]]\nname = \"b{i}\"\ntransport = \"http\"\nurl = \"{sample.Endpoint}\"\n");
    }

    var path = Path.Combine(work, "list.toml");
    await File.WriteAllTextAsync(path, config.ToString());
    var proxy = await Participant.StartAsync("McpProxy (10 backends)", "dotnet", [proxyDll, "--config", path], port);
    participants.Add(proxy);
    await LoadRunner.WaitForToolsAsync(proxy.Endpoint, http, "b9/t49");

    return (await Measure(sample.Endpoint, 61), await Measure(proxy.Endpoint, 610));

    async Task<(double, double)> Measure(Uri endpoint, int expected)
    {
        await using var client = await LoadRunner.ConnectAsync(endpoint, http);
        var samples = new List<double>();
        for (var i = 0; i < 550; i++)
        {
            var started = Stopwatch.GetTimestamp();
            var tools = await client.ListToolsAsync();
            if (i >= 50)
            {
                samples.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }

            if (tools.Count < expected)
            {
                throw new InvalidOperationException($"expected {expected} tools, got {tools.Count}");
            }
        }

        var sorted = samples.Order().ToArray();
        return (LoadRunner.Percentile(sorted, 0.5), LoadRunner.Percentile(sorted, 0.99));
    }
}

static string FindRepoRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "McpProxy.slnx")))
        {
            return dir.FullName;
        }
    }

    throw new InvalidOperationException("McpProxy.slnx not found above " + AppContext.BaseDirectory);
}

static string Machine()
{
    var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU";
    var memory = File.ReadLines("/proc/meminfo").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
    var node = Process.Start(new ProcessStartInfo("node", "--version") { RedirectStandardOutput = true })!.StandardOutput.ReadToEnd().Trim();
    return $"{Environment.ProcessorCount} cores ({cpu}), {long.Parse(memory, CultureInfo.InvariantCulture) / 1024 / 1024} GiB, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}, Node {node}";
}

internal sealed record BenchOptions(TimeSpan Duration, TimeSpan Warmup, int[] Concurrency, string? Out, bool Peers, bool Replicas = true, bool Floors = true)
{
    /// <summary>The memory probes after the rows (idle sessions, a 20 MiB result) and the tools/list measurement (<c>--no-memory</c> skips them).</summary>
    public bool Memory { get; init; } = true;

    /// <summary>Adds rows of a second proxy whose HTTP backend has <c>fast_path = false</c> (<c>--fast-path-ab</c>).</summary>
    public bool FastPathAb { get; init; }

    /// <summary>Unmeasured load on every target before the rows (<c>--prewarm</c> seconds): the runtime's tier-up is done by then.</summary>
    public TimeSpan Prewarm { get; init; } = TimeSpan.FromSeconds(6);

    /// <summary>Extra environment for the proxy process (<c>--proxy-env KEY=VALUE</c>), for A/B experiments.</summary>
    public Dictionary<string, string> ProxyEnv { get; init; } = [];

    public static BenchOptions Parse(string[] args)
    {
        var o = new BenchOptions(TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(1), [1, 16, 64], null, true);
        for (var i = 0; i < args.Length; i++)
        {
            o = args[i] switch
            {
                "--duration" => o with { Duration = TimeSpan.FromSeconds(double.Parse(args[++i], CultureInfo.InvariantCulture)) },
                "--warmup" => o with { Warmup = TimeSpan.FromSeconds(double.Parse(args[++i], CultureInfo.InvariantCulture)) },
                "--concurrency" => o with { Concurrency = [.. args[++i].Split(',').Select(c => int.Parse(c, CultureInfo.InvariantCulture))] },
                "--out" => o with { Out = args[++i] },
                "--no-peers" => o with { Peers = false },
                "--no-replicas" => o with { Replicas = false },
                "--no-floors" => o with { Floors = false },
                "--no-memory" => o with { Memory = false },
                "--fast-path-ab" => o with { FastPathAb = true },
                "--prewarm" => o with { Prewarm = TimeSpan.FromSeconds(double.Parse(args[++i], CultureInfo.InvariantCulture)) },
                "--proxy-env" => o with { ProxyEnv = new(o.ProxyEnv) { [args[++i].Split('=', 2)[0]] = args[i].Split('=', 2)[1] } },
                _ => throw new ArgumentException($"unknown option {args[i]}"),
            };
        }

        return o;
    }
}
