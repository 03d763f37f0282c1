using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpProxy.Benchmarks;

/// <summary>
/// Memory growth of a fresh proxy for <see cref="Sessions"/> open, idle legacy sessions: its resident set and its GC heap
/// (after the runtime's last collection) before and after, in MiB.
/// </summary>
internal sealed record IdleSessionsResult(int Sessions, double RssMiB, double HeapMiB)
{
    public double RssMiBPer1000 => RssMiB * 1000 / Sessions;

    public double HeapMiBPer1000 => HeapMiB * 1000 / Sessions;
}

/// <summary>
/// What one large <c>tools/call</c> result cost a fresh proxy: its peak resident set during the call over the warmed
/// baseline before it, and its managed allocations for the call, both in bytes; <see cref="Error"/> when the call failed.
/// </summary>
internal sealed record LargeResultResult(Era Era, long ResultBytes, double PeakRssIncreaseBytes, double AllocatedBytes, bool PeakExact, string? Error = null)
{
    /// <summary>Measured with <c>fast_path = false</c> on the backend (<c>--fast-path-ab</c>).</summary>
    public bool FastPathOff { get; init; }

    public double PeakRatio => PeakRssIncreaseBytes / ResultBytes;

    public double AllocatedRatio => AllocatedBytes / ResultBytes;
}

/// <summary>The proxy's own runtime metrics from its Prometheus endpoint (<c>/admin/metrics</c>).</summary>
internal static class ProxyMetrics
{
    /// <summary>The sum of every series of a metric (NaN when metrics are off, e.g. <c>--proxy-env OTEL_SDK_DISABLED=true</c>).</summary>
    public static async Task<double> SumAsync(Participant proxy, HttpClient http, string metric)
    {
        var text = await http.GetStringAsync(new Uri(proxy.Endpoint, "/admin/metrics"));
        var sum = double.NaN;
        foreach (var line in text.Split('\n'))
        {
            if (line.Length > metric.Length && line.StartsWith(metric, StringComparison.Ordinal) && line[metric.Length] is '{' or ' ')
            {
                var value = line[(line.IndexOf('}') is var end and >= 0 ? end + 1 : metric.Length)..].Trim().Split(' ')[0];
                sum = (double.IsNaN(sum) ? 0 : sum) + double.Parse(value, CultureInfo.InvariantCulture);
            }
        }

        return sum;
    }

    /// <summary>Managed allocations so far (the runtime's <c>dotnet.gc.heap.total_allocated</c>).</summary>
    public static Task<double> AllocatedBytesAsync(Participant proxy, HttpClient http) =>
        SumAsync(proxy, http, "dotnet_gc_heap_total_allocated_bytes_total");

    /// <summary>The GC heap's size after the last collection, all generations.</summary>
    public static Task<double> HeapBytesAsync(Participant proxy, HttpClient http) =>
        SumAsync(proxy, http, "dotnet_gc_last_collection_heap_size_bytes");
}

/// <summary>The memory targets of issue 16, each measured on a fresh proxy process that nothing else has used.</summary>
internal static class MemoryProbes
{
    private const double MiB = 1024 * 1024;

    /// <summary>
    /// Opens <paramref name="sessions"/> legacy sessions (the SDK's client: <c>initialize</c> and
    /// <c>notifications/initialized</c>), keeps them idle for two seconds and reads the proxy's RSS and GC heap growth.
    /// </summary>
    public static async Task<IdleSessionsResult> IdleSessionsAsync(
        string proxyDll, string config, HttpClient http, List<Participant> participants, IDictionary<string, string> env, int sessions = 1000)
    {
        var text = await File.ReadAllTextAsync(config);
        var port = Participant.FreePort();
        var path = Path.Combine(Path.GetDirectoryName(config)!, "idle.toml");
        await File.WriteAllTextAsync(path, System.Text.RegularExpressions.Regex.Replace(text, @"(?m)^port = \d+$", $"port = {port}"));
        var proxy = await Participant.StartAsync("McpProxy (idle sessions)", "dotnet", [proxyDll, "--config", path], port, env: env);
        participants.Add(proxy);
        var clients = new List<McpClient>();
        try
        {
            await LoadRunner.WaitForToolsAsync(proxy.Endpoint, http, "stdio/echo");
            await Task.Delay(2000);
            var rssBefore = proxy.RssMiB();
            var heapBefore = await ProxyMetrics.HeapBytesAsync(proxy, http);
            for (var i = 0; i < sessions; i += 50)
            {
                clients.AddRange(await Task.WhenAll(Enumerable.Range(0, Math.Min(50, sessions - i)).Select(_ => LoadRunner.ConnectAsync(proxy.Endpoint, http))));
            }

            await Task.Delay(2000);
            var rssAfter = proxy.RssMiB();
            var heapAfter = await ProxyMetrics.HeapBytesAsync(proxy, http);
            return new IdleSessionsResult(sessions, rssAfter - rssBefore, (heapAfter - heapBefore) / MiB);
        }
        finally
        {
            await Task.WhenAll(clients.Select(c => c.DisposeAsync().AsTask()));
            participants.Remove(proxy);
            await proxy.DisposeAsync();
        }
    }

    /// <summary>
    /// One <c>tools/call</c> of the sample's <c>large</c> tool (<paramref name="sizeKb"/> KiB of text) through a fresh
    /// proxy to the HTTP <paramref name="backend"/>, after a few small calls of the same tool: the proxy's peak RSS during
    /// the call (its kernel high-water mark, reset just before; also polled every few ms) minus its RSS before it.
    /// With <paramref name="fastPathOff"/> the backend has <c>fast_path = false</c>.
    /// </summary>
    public static async Task<LargeResultResult> LargeResultAsync(
        Era era, string proxyDll, Uri backend, string work, HttpClient http, List<Participant> participants, IDictionary<string, string> env,
        bool fastPathOff = false, int sizeKb = 20 * 1024)
    {
        var bytes = sizeKb * 1024L;
        var port = Participant.FreePort();
        var path = await ProxyToml.WriteAsync(
            work,
            $"large-{era}{(fastPathOff ? "-off" : "")}.toml",
            port,
            ProxyToml.HttpBackend(backend, fastPathOff ? "fast_path = false" : ""),
            $"[security]\nmax_result_size = {4 * bytes} # the result and its JSON framing pass",
            "mcp-proxy-bench-large");
        Participant proxy;
        try
        {
            proxy = await Participant.StartAsync($"McpProxy (large result, {era})", "dotnet", [proxyDll, "--config", path], port, env: env);
        }
        catch (InvalidOperationException ex)
        {
            return new LargeResultResult(era, bytes, double.NaN, double.NaN, false, ex.Message) { FastPathOff = fastPathOff };
        }

        participants.Add(proxy);
        McpClient? client = null;
        try
        {
            await LoadRunner.WaitForToolsAsync(proxy.Endpoint, http, "http/large");
            client = era == Era.Legacy ? await LoadRunner.ConnectAsync(proxy.Endpoint, http) : null;
            for (var i = 0; i < 5; i++)
            {
                await CallLargeAsync(client, http, proxy.Endpoint, 64); // the path's code is compiled before the baseline
            }

            await Task.Delay(1000);
            var baseline = proxy.RssMiB();
            var exact = proxy.ResetPeakRss();
            var allocatedBefore = await ProxyMetrics.AllocatedBytesAsync(proxy, http);
            using var stop = new CancellationTokenSource();
            var polled = Task.Run(async () =>
            {
                var max = 0.0;
                while (!stop.IsCancellationRequested)
                {
                    max = Math.Max(max, proxy.RssMiB());
                    await Task.Delay(2);
                }

                return max;
            });
            string? error = null;
            try
            {
                var received = await CallLargeAsync(client, http, proxy.Endpoint, sizeKb);
                error = received < bytes ? $"got {received} bytes" : null;
            }
            catch (Exception ex) when (ex is HttpRequestException or ModelContextProtocol.McpException or InvalidOperationException or TaskCanceledException)
            {
                error = ex.GetType().Name + ": " + ex.Message;
            }

            await stop.CancelAsync();
            var peak = Math.Max(await polled, exact ? proxy.PeakRssMiB() : 0);
            await Task.Delay(1000); // the proxy's Prometheus exporter answers from a short-lived cache of its last scrape
            var allocated = await ProxyMetrics.AllocatedBytesAsync(proxy, http) - allocatedBefore;
            return new LargeResultResult(era, bytes, (peak - baseline) * MiB, allocated, exact, error) { FastPathOff = fastPathOff };
        }
        finally
        {
            if (client is not null)
            {
                await client.DisposeAsync();
            }

            participants.Remove(proxy);
            await proxy.DisposeAsync();
        }
    }

    /// <summary>Calls <c>http/large</c>; returns the length of the text received (legacy) or of the response body (modern).</summary>
    private static async Task<long> CallLargeAsync(McpClient? legacy, HttpClient http, Uri endpoint, int sizeKb)
    {
        if (legacy is not null)
        {
            var result = await legacy.CallToolAsync("http/large", new Dictionary<string, object?> { ["size_kb"] = sizeKb });
            return result.IsError != true && result.Content is [TextContentBlock text] ? text.Text.Length : -1;
        }

        var body = Encoding.UTF8.GetBytes(
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"http/large\",\"arguments\":{\"size_kb\":" + sizeKb.ToString(CultureInfo.InvariantCulture) + "}," +
            "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"" + LoadRunner.ModernVersion + "\",\"io.modelcontextprotocol/clientCapabilities\":{}," +
            "\"io.modelcontextprotocol/clientInfo\":{\"name\":\"mcp-proxy-bench\",\"version\":\"1.0\"}}}}");
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.TryAddWithoutValidation("Accept", "application/json, text/event-stream");
        request.Headers.TryAddWithoutValidation("MCP-Protocol-Version", LoadRunner.ModernVersion);
        request.Headers.TryAddWithoutValidation("Mcp-Method", "tools/call");
        request.Headers.TryAddWithoutValidation("Mcp-Name", "http/large");
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await using var stream = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[81920];
        long total = 0;
        int read;
        while ((read = await stream.ReadAsync(buffer)) > 0)
        {
            total += read;
        }

        return response.StatusCode == HttpStatusCode.OK ? total : -1;
    }
}
