using System.Globalization;
using System.Text;

namespace McpProxy.Benchmarks;

/// <summary>The markdown report: absolute figures and ratios to the direct call at the same concurrency.</summary>
internal static class Report
{
    public static string Markdown(
        IReadOnlyList<RunResult> results, double idleMiBPer1000, (double P50, double P99) listDirect, (double P50, double P99) listProxy, BenchOptions options, string machine)
    {
        var c = CultureInfo.InvariantCulture;
        var md = new StringBuilder();
        md.AppendLine("# Benchmarks");
        md.AppendLine();
        md.AppendLine(c, $"Latest run: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, `dotnet run -c Release --project bench/McpProxy.Benchmarks -- --out docs/benchmarks.md`.");
        md.AppendLine();
        md.AppendLine(c, $"Machine: {machine}. Load generator, servers and backends share these cores on loopback, so absolute figures are low and noisy; compare the ratios, all measured in this one run.");
        md.AppendLine();
        md.AppendLine(c, $"`tools/call` of the sample backend's `echo` over Streamable HTTP, closed loop, {options.Duration.TotalSeconds:0} s per row after {options.Warmup.TotalSeconds:0} s warm-up. \"× direct\" divides by the direct call at the same concurrency (throughput: higher is better; latency: lower is better). CPU and RSS are the front process's own (the proxy or peer, not its backend); allocations are the proxy's managed heap allocations per call, from its own `/admin/metrics`.");
        md.AppendLine();
        md.AppendLine("| target | conc. | calls/s | × direct | p50 ms | × direct | p99 ms | × direct | CPU % | RSS MiB | alloc KiB/call | errors |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var group in results.GroupBy(r => r.Concurrency))
        {
            var direct = group.First();
            foreach (var r in group)
            {
                md.AppendLine(c, $"| {r.Target} | {r.Concurrency} | {r.CallsPerSecond:0} | {Ratio(r.CallsPerSecond, direct.CallsPerSecond)} | {r.P50Ms:0.000} | {Ratio(r.P50Ms, direct.P50Ms)} | {r.P99Ms:0.000} | {Ratio(r.P99Ms, direct.P99Ms)} | {r.CpuPercent:0} | {r.RssMiB:0} | {(double.IsNaN(r.AllocatedKiBPerCall) ? "" : r.AllocatedKiBPerCall.ToString("0.0", c))} | {(r.Errors < 0 ? "run failed" : r.Errors.ToString(c))} |");
            }
        }

        md.AppendLine();
        md.AppendLine("Also measured:");
        md.AppendLine();
        md.AppendLine(c, $"- Memory per 1,000 idle client sessions on the proxy (RSS growth): **{idleMiBPer1000:0.0} MiB**.");
        md.AppendLine(c, $"- `tools/list` with 10 backends × 61 tools (50 extra each): p50 **{listProxy.P50:0.000} ms**, p99 {listProxy.P99:0.000} ms through the proxy (610 tools), vs. p50 {listDirect.P50:0.000} ms for one backend's 61 tools directly.");
        md.AppendLine();
        md.AppendLine("Targets (from the issue): p50 overhead within 15% of direct at concurrency 1; throughput ≥ 80% of direct at 64; ≥ 3× the throughput of both npm peers; no errors.");
        md.AppendLine();
        foreach (var line in Targets(results))
        {
            md.AppendLine("- " + line);
        }

        return md.ToString();
    }

    private static IEnumerable<string> Targets(IReadOnlyList<RunResult> results)
    {
        var c = CultureInfo.InvariantCulture;
        RunResult? Find(string prefix, int conc) => results.FirstOrDefault(r => r.Concurrency == conc && r.Target.StartsWith(prefix, StringComparison.Ordinal));
        var low = results.Min(r => r.Concurrency);
        var high = results.Max(r => r.Concurrency);
        if (Find("direct", low) is { } d1 && Find("McpProxy → HTTP", low) is { } p1)
        {
            var overhead = (p1.P50Ms / d1.P50Ms) - 1;
            yield return string.Create(c, $"p50 overhead at concurrency {low} (HTTP backend): {overhead:+0%;-0%} — {(overhead <= 0.15 ? "met" : "not met")}");
        }

        if (Find("direct", high) is { } dh && Find("McpProxy → HTTP", high) is { } ph)
        {
            var share = ph.CallsPerSecond / dh.CallsPerSecond;
            yield return string.Create(c, $"throughput at concurrency {high} (HTTP backend): {share:0%} of direct — {(share >= 0.8 ? "met" : "not met")}");
        }

        foreach (var peer in new[] { "supergateway", "mcp-proxy (npm)" })
        {
            if (Find("McpProxy → stdio", high) is { } ours && Find(peer, high) is { } theirs && theirs.CallsPerSecond > 0)
            {
                var times = ours.CallsPerSecond / theirs.CallsPerSecond;
                yield return string.Create(c, $"vs {peer} at concurrency {high} (same stdio backend): {times:0.0}× its throughput — {(times >= 3 ? "met" : "not met")}");
            }
        }

        var errors = results.Where(r => r.Target.StartsWith("McpProxy", StringComparison.Ordinal)).Sum(r => Math.Max(0, r.Errors));
        yield return string.Create(c, $"errors through McpProxy under load: {errors} — {(errors == 0 ? "met" : "not met")}");
    }

    private static string Ratio(double value, double baseline) =>
        baseline > 0 && !double.IsNaN(value) ? (value / baseline).ToString("0.00", CultureInfo.InvariantCulture) : "—";
}
