using System.Globalization;
using System.Text;

namespace McpProxy.Benchmarks;

/// <summary>
/// The markdown report: absolute figures, ratios to the direct call and to the two floors (YARP, the MCP-aware byte
/// forwarder) of the same era at the same concurrency.
/// </summary>
internal static class Report
{
    public const string Yarp = "YARP → HTTP backend";
    public const string Forwarder = "byte forwarder → HTTP backend";

    /// <summary>Below this many measured calls a row's per-call CPU and allocations are left blank (startup noise dominates).</summary>
    private const int MinCallsForCpu = 100;

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
        md.AppendLine(string.Create(c, $"`tools/call` of the sample backend's `echo` over Streamable HTTP, closed loop, {options.Duration.TotalSeconds:0} s per row after {options.Warmup.TotalSeconds:0} s warm-up, every target pre-warmed for {options.Prewarm.TotalSeconds:0} s before the first row (short on purpose: the whole run takes about eight minutes on this 2-core machine). ") +
            "**Legacy** clients are the C# SDK's (`initialize`, then calls in their `Mcp-Session-Id` session, one session per concurrent client); " +
            "**modern** clients are raw 2026-07-28 POSTs (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`, `_meta` with version, client info and capabilities; no `initialize`, no session). " +
            "\"× direct\" divides by the direct call of the same era at the same concurrency (throughput: higher is better; latency: lower is better); " +
            "\"× YARP\" and \"× fwd\" divide by the two floors of the same era and concurrency: YARP as a transparent hop and a minimal MCP-aware byte forwarder of ours, both in front of the same backend. " +
            "Front CPU is the CPU time (user + system, from `/proc/<pid>/stat`) of the process(es) the client talks to — the proxy, the floor or the peer — per 1,000 calls; " +
            "backend CPU is the backend's (the HTTP sample, or the front's stdio children); for direct rows the sample *is* the front. " +
            "Allocations are the front's managed heap allocations per call (McpProxy: `dotnet_gc_heap_total_allocated_bytes` from its `/admin/metrics`; the floors: `GC.GetTotalAllocatedBytes`); blank where the front is not .NET, and CPU and allocations are blank for rows with fewer than 100 calls measured.");
        md.AppendLine();
        md.AppendLine("| target | era | conc. | calls/s | × direct | × YARP | × fwd | p50 ms | × direct | p99 ms | front CPU ms/1k calls | × fwd | backend CPU ms/1k calls | RSS MiB | alloc KiB/call | errors |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in results.Select(r => r.Calls < MinCallsForCpu ? r with { FrontCpuMsPer1k = double.NaN, BackendCpuMsPer1k = double.NaN, AllocatedKiBPerCall = double.NaN } : r))
        {
            // A direct row's front is the backend itself: its CPU is not compared with a floor's front.
            var frontVsFloor = r.Target.StartsWith("direct", StringComparison.Ordinal) ? double.NaN : r.FrontCpuMsPer1k;
            var direct = Find(results, "direct", r.Era, r.Concurrency);
            var yarp = Find(results, Yarp, r.Era, r.Concurrency);
            var fwd = Find(results, Forwarder, r.Era, r.Concurrency);
            md.AppendLine(c, $"| {r.Target} | {r.Era.ToString().ToLowerInvariant()} | {r.Concurrency} | {r.CallsPerSecond:0} | {Ratio(r.CallsPerSecond, direct?.CallsPerSecond)} | {Ratio(r.CallsPerSecond, yarp?.CallsPerSecond)} | {Ratio(r.CallsPerSecond, fwd?.CallsPerSecond)} | {r.P50Ms:0.000} | {Ratio(r.P50Ms, direct?.P50Ms)} | {r.P99Ms:0.000} | {Num(r.FrontCpuMsPer1k)} | {Ratio(frontVsFloor, fwd?.FrontCpuMsPer1k)} | {Num(r.BackendCpuMsPer1k)} | {Num(r.RssMiB)} | {(double.IsNaN(r.AllocatedKiBPerCall) ? "" : r.AllocatedKiBPerCall.ToString("0.0", c))} | {(r.Errors < 0 ? "run failed" : r.Errors.ToString(c))}{(r.Instances > 1 ? string.Create(c, $" ({r.Instances} replicas answered)") : "")} |");
        }

        md.AppendLine();
        md.AppendLine("Also measured:");
        md.AppendLine();
        md.AppendLine(c, $"- Memory per 1,000 idle legacy client sessions on a fresh proxy (RSS growth): **{idleMiBPer1000:0.0} MiB**.");
        md.AppendLine(c, $"- `tools/list` with 10 backends × 61 tools (50 extra each): p50 **{listProxy.P50:0.000} ms**, p99 {listProxy.P99:0.000} ms through the proxy (610 tools), vs. p50 {listDirect.P50:0.000} ms for one backend's 61 tools directly.");
        md.AppendLine();
        md.AppendLine("Targets (issue 16, per era; the earlier ones against the direct call follow):");
        md.AppendLine();
        foreach (var line in Targets(results))
        {
            md.AppendLine("- " + line);
        }

        return md.ToString();
    }

    private static RunResult? Find(IReadOnlyList<RunResult> results, string prefix, Era era, int concurrency) =>
        results.FirstOrDefault(r => r.Concurrency == concurrency && r.Era == era && r.Errors >= 0 && r.Target.StartsWith(prefix, StringComparison.Ordinal));

    private static IEnumerable<string> Targets(IReadOnlyList<RunResult> results)
    {
        var c = CultureInfo.InvariantCulture;
        results = [.. results.Where(r => r.Calls >= MinCallsForCpu)];
        var low = results.Min(r => r.Concurrency);
        var high = results.Max(r => r.Concurrency);
        const string proxyHttp = "McpProxy → HTTP";
        foreach (var era in new[] { Era.Legacy, Era.Modern })
        {
            var e = era.ToString().ToLowerInvariant();
            foreach (var conc in results.Select(r => r.Concurrency).Distinct().Where(x => x >= 16))
            {
                if (Find(results, proxyHttp, era, conc) is { } p && Find(results, Forwarder, era, conc) is { } f)
                {
                    var x = p.FrontCpuMsPer1k / f.FrontCpuMsPer1k;
                    yield return string.Create(c, $"{e}, concurrency {conc}: front CPU per call {x:0.00}× the byte forwarder's (target ≤ 1.5×) — {(x <= 1.5 ? "met" : "not met")}");
                }

                if (Find(results, proxyHttp, era, conc) is { } p2 && Find(results, Yarp, era, conc) is { } y)
                {
                    var x = p2.CallsPerSecond / y.CallsPerSecond;
                    yield return string.Create(c, $"{e}, concurrency {conc}: throughput {x:0.00}× YARP's (target ≥ 0.9×) — {(x >= 0.9 ? "met" : "not met")}");
                }
            }

            if (Find(results, proxyHttp, era, low) is { } p1 && Find(results, Yarp, era, low) is { } y1)
            {
                var d = p1.P50Ms - y1.P50Ms;
                yield return string.Create(c, $"{e}, concurrency {low}: p50 {d:+0.000;-0.000} ms vs YARP (target ≤ +0.1 ms) — {(d <= 0.1 ? "met" : "not met")}");
            }

            if (Find(results, proxyHttp, era, high) is { } pa && !double.IsNaN(pa.AllocatedKiBPerCall))
            {
                yield return string.Create(c, $"{e}, concurrency {high}: {pa.AllocatedKiBPerCall:0.0} KiB allocated per call (target ≤ 8 KiB) — {(pa.AllocatedKiBPerCall <= 8 ? "met" : "not met")}");
            }
        }

        if (Find(results, "direct", Era.Legacy, low) is { } d1 && Find(results, proxyHttp, Era.Legacy, low) is { } l1)
        {
            var overhead = (l1.P50Ms / d1.P50Ms) - 1;
            yield return string.Create(c, $"legacy, p50 overhead at concurrency {low} (HTTP backend): {overhead:+0%;-0%} of direct (target ≤ 15%) — {(overhead <= 0.15 ? "met" : "not met")}");
        }

        if (Find(results, "direct", Era.Legacy, high) is { } dh && Find(results, proxyHttp, Era.Legacy, high) is { } ph)
        {
            var share = ph.CallsPerSecond / dh.CallsPerSecond;
            yield return string.Create(c, $"legacy, throughput at concurrency {high} (HTTP backend): {share:0%} of direct (target ≥ 80%) — {(share >= 0.8 ? "met" : "not met")}");
        }

        foreach (var peer in new[] { "supergateway", "mcp-proxy (npm)" })
        {
            if (Find(results, "McpProxy → stdio", Era.Legacy, high) is { } ours && Find(results, peer, Era.Legacy, high) is { } theirs && theirs.CallsPerSecond > 0)
            {
                var times = ours.CallsPerSecond / theirs.CallsPerSecond;
                yield return string.Create(c, $"vs {peer} at concurrency {high} (same stdio backend): {times:0.0}× its throughput (target ≥ 5×) — {(times >= 5 ? "met" : "not met")}");
            }
        }

        var errors = results.Where(r => r.Target.StartsWith("McpProxy", StringComparison.Ordinal)).Sum(r => Math.Max(0, r.Errors));
        yield return string.Create(c, $"errors through McpProxy under load: {errors} — {(errors == 0 ? "met" : "not met")}");
    }

    private static string Num(double value) => double.IsNaN(value) ? "" : value.ToString("0", CultureInfo.InvariantCulture);

    private static string Ratio(double value, double? baseline) =>
        baseline is > 0 && !double.IsNaN(value) ? (value / baseline.Value).ToString("0.00", CultureInfo.InvariantCulture) : "—";
}
