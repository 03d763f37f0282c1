using System.Diagnostics;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpProxy.Benchmarks;

internal sealed record RunResult(
    string Target, int Concurrency, double CallsPerSecond, double P50Ms, double P99Ms, long Calls, long Errors, double CpuPercent, double RssMiB,
    double AllocatedKiBPerCall = double.NaN);

/// <summary>Closed-loop load: N MCP sessions (real clients over Streamable HTTP), each calling one tool back to back.</summary>
internal static class LoadRunner
{
    public static async Task<RunResult> RunAsync(
        string target, Participant server, HttpClient http, string tool, int concurrency, TimeSpan warmup, TimeSpan duration,
        Func<Task<double>>? allocatedBytes = null)
    {
        var clients = new List<McpClient>();
        try
        {
            // Sessions are opened before the clock starts (peers that spawn a child per session pay for it here).
            for (var i = 0; i < concurrency; i += 8)
            {
                var batch = await Task.WhenAll(Enumerable.Range(i, Math.Min(8, concurrency - i)).Select(_ => ConnectAsync(server.Endpoint, http)));
                clients.AddRange(batch);
            }

            var arguments = new Dictionary<string, object?> { ["message"] = "benchmark payload" };
            var latencies = new List<double>[concurrency];
            long errors = 0;
            var measuring = false;
            var stopAt = DateTime.MaxValue;
            using var stop = new CancellationTokenSource();

            var workers = clients.Select((client, index) => Task.Run(async () =>
            {
                var mine = latencies[index] = new List<double>(4096);
                while (!stop.IsCancellationRequested)
                {
                    var started = Stopwatch.GetTimestamp();
                    try
                    {
                        var result = await client.CallToolAsync(tool, arguments);
                        if (result.IsError == true || result.Content.Count != 1)
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
            var allocatedBefore = allocatedBytes is null ? double.NaN : await allocatedBytes();
            var cpuBefore = server.CpuTime();
            var clock = Stopwatch.StartNew();
            stopAt = DateTime.UtcNow + duration;
            Volatile.Write(ref measuring, true);
            await Task.Delay(duration);
            clock.Stop();
            var cpuAfter = server.CpuTime();
            var rss = server.RssMiB();
            var measuredErrors = Interlocked.Read(ref errors);
            var allocatedAfter = allocatedBytes is null ? double.NaN : await allocatedBytes();
            stop.Cancel();
            await Task.WhenAll(workers);

            var all = latencies.SelectMany(l => l).Order().ToArray();
            return new RunResult(
                target,
                concurrency,
                all.Length / clock.Elapsed.TotalSeconds,
                Percentile(all, 0.50),
                Percentile(all, 0.99),
                all.Length,
                measuredErrors,
                100 * (cpuAfter - cpuBefore).TotalSeconds / clock.Elapsed.TotalSeconds,
                rss,
                (allocatedAfter - allocatedBefore) / 1024 / Math.Max(1, all.Length));
        }
        finally
        {
            await Task.WhenAll(clients.Select(c => c.DisposeAsync().AsTask()));
        }
    }

    public static Task<McpClient> ConnectAsync(Uri endpoint, HttpClient http) =>
        McpClient.CreateAsync(new HttpClientTransport(
            new HttpClientTransportOptions { Endpoint = endpoint, TransportMode = HttpTransportMode.StreamableHttp },
            http,
            ownsHttpClient: false));

    public static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
}
