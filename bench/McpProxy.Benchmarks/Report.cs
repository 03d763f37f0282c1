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
    public const string FastPathOff = "McpProxy (fast path off) → HTTP backend";

    /// <summary>Below this many measured calls a row's per-call CPU and allocations are left blank (startup noise dominates).</summary>
    private const int MinCallsForCpu = 100;

    public static string Markdown(IReadOnlyList<RunResult> results, Extras extras, BenchOptions options, string machine)
    {
        var c = CultureInfo.InvariantCulture;
        var md = new StringBuilder();
        md.AppendLine("# Benchmarks");
        md.AppendLine();
        md.AppendLine(c, $"Latest run: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, `dotnet run -c Release --project bench/McpProxy.Benchmarks -- --out docs/benchmarks.md`{(options.FastPathAb ? " (with `--fast-path-ab`)" : "")}; the whole run took {extras.RunTime.TotalMinutes:0.0} minutes.");
        md.AppendLine();
        md.AppendLine(c, $"Machine: {machine}. Load generator, servers and backends share these cores on loopback, so absolute figures are low and noisy; compare the ratios, all measured in this one run.");
        md.AppendLine();
        md.AppendLine(string.Create(c, $"`tools/call` of the sample backend's `echo` over Streamable HTTP, closed loop, {options.Duration.TotalSeconds:0} s per row after {options.Warmup.TotalSeconds:0} s warm-up, every target pre-warmed for {options.Prewarm.TotalSeconds:0} s before the first row (short on purpose, so that the whole run stays under about nine minutes on this 2-core machine). ") +
            "**Legacy** clients are the C# SDK's (`initialize`, then calls in their `Mcp-Session-Id` session, one session per concurrent client); " +
            "**modern** clients are raw 2026-07-28 POSTs (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`, `_meta` with version, client info and capabilities; no `initialize`, no session). " +
            "\"× direct\" divides by the direct call of the same era at the same concurrency (throughput: higher is better; latency: lower is better); " +
            "\"× YARP\" and \"× fwd\" divide by the two floors of the same era and concurrency: YARP as a transparent hop and a minimal MCP-aware byte forwarder of ours, both in front of the same backend. " +
            "Front CPU is the CPU time (user + system, from `/proc/<pid>/stat`) of the process(es) the client talks to — the proxy, the floor or the peer — per 1,000 calls; " +
            "backend CPU is the backend's (the HTTP sample, or the front's stdio children); for direct rows the sample *is* the front; client CPU is the load generator's (this benchmark's process: the C# SDK's client for legacy rows, raw POSTs for modern ones), and total CPU adds the three: what a call costs the two cores every participant shares, which is what bounds throughput here. " +
            "Allocations are the front's managed heap allocations per call (McpProxy: `dotnet_gc_heap_total_allocated_bytes` from its `/admin/metrics`; the floors: `GC.GetTotalAllocatedBytes`); blank where the front is not .NET, and CPU and allocations are blank for rows with fewer than 100 calls measured." +
            (options.FastPathAb ? $" \"{FastPathOff}\" is a second proxy whose HTTP backend has `fast_path = false` (the SDK's typed path for every call); \"McpProxy → HTTP backend\" has the default (`true`)." : ""));
        md.AppendLine();
        md.AppendLine("| target | era | conc. | calls/s | × direct | × YARP | × fwd | p50 ms | × direct | p99 ms | front CPU ms/1k calls | × fwd | backend CPU ms/1k calls | client CPU ms/1k calls | total CPU ms/1k calls | RSS MiB | alloc KiB/call | errors |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in results.Select(r => r.Calls < MinCallsForCpu ? r with { FrontCpuMsPer1k = double.NaN, BackendCpuMsPer1k = double.NaN, ClientCpuMsPer1k = double.NaN, AllocatedKiBPerCall = double.NaN } : r))
        {
            // A direct row's front is the backend itself: its CPU is not compared with a floor's front.
            var frontVsFloor = r.Target.StartsWith("direct", StringComparison.Ordinal) ? double.NaN : r.FrontCpuMsPer1k;
            var direct = Find(results, "direct", r.Era, r.Concurrency);
            var yarp = Find(results, Yarp, r.Era, r.Concurrency);
            var fwd = Find(results, Forwarder, r.Era, r.Concurrency);
            md.AppendLine(c, $"| {r.Target} | {r.Era.ToString().ToLowerInvariant()} | {r.Concurrency} | {r.CallsPerSecond:0} | {Ratio(r.CallsPerSecond, direct?.CallsPerSecond)} | {Ratio(r.CallsPerSecond, yarp?.CallsPerSecond)} | {Ratio(r.CallsPerSecond, fwd?.CallsPerSecond)} | {r.P50Ms:0.000} | {Ratio(r.P50Ms, direct?.P50Ms)} | {r.P99Ms:0.000} | {Num(r.FrontCpuMsPer1k)} | {Ratio(frontVsFloor, fwd?.FrontCpuMsPer1k)} | {Num(r.BackendCpuMsPer1k)} | {Num(r.ClientCpuMsPer1k)} | {Num(r.TotalCpuMsPer1k)} | {Num(r.RssMiB)} | {(double.IsNaN(r.AllocatedKiBPerCall) ? "" : r.AllocatedKiBPerCall.ToString("0.0", c))} | {(r.Errors < 0 ? "run failed" : r.Errors.ToString(c))}{(r.Instances > 1 ? string.Create(c, $" ({r.Instances} replicas answered)") : "")} |");
        }

        md.AppendLine();
        if (extras.ListProxy.P50 > 0)
        {
            md.AppendLine("Also measured:");
            md.AppendLine();
            md.AppendLine(c, $"- `tools/list` with 10 backends × 61 tools (50 extra each): p50 **{extras.ListProxy.P50:0.000} ms**, p99 {extras.ListProxy.P99:0.000} ms through the proxy (610 tools), vs. p50 {extras.ListDirect.P50:0.000} ms for one backend's 61 tools directly.");
            md.AppendLine();
        }

        md.AppendLine("## Targets (issue 16, item 4)");
        md.AppendLine();
        md.AppendLine("Each line is computed from this run's figures above (McpProxy → HTTP backend with its default settings, which is what the targets are about, unless a line names another row). " +
            "The memory lines are measured after the load rows, with the rows' servers stopped, each on a fresh proxy that nothing else has used: " +
            "**idle sessions** — the proxy's RSS (`VmRSS`) and GC heap (`dotnet_gc_last_collection_heap_size_bytes`, all generations, as of the runtime's last collection) before and after opening 1,000 legacy sessions (the SDK's client: `initialize`, `notifications/initialized`) left idle for 2 s; " +
            "**large result** — one `tools/call` of the sample's `large` tool (`size_kb = 20480`: 20 MiB of text) through the proxy to the HTTP sample backend (`[security] max_result_size` raised for it), after five small calls of the same tool: " +
            "the proxy's peak RSS during the call (the kernel's high-water mark `VmHWM`, reset through `/proc/<pid>/clear_refs` just before, and RSS polled every few ms) minus its RSS before the call, divided by the result's size; the proxy's managed allocations for the call are given beside it.");
        md.AppendLine();
        md.AppendLine("| target | era | measured in this run | required | |");
        md.AppendLine("|---|---|---|---|---|");
        foreach (var t in Targets(results, extras, options))
        {
            md.AppendLine(c, $"| {t.What} | {t.Era} | {t.Measured} | {t.Required} | {(t.Met switch { true => "met", false => "**not met**", null => "not measured" })} |");
        }

        if (FastPathAb(results, extras).ToList() is { Count: > 0 } ab)
        {
            md.AppendLine();
            md.AppendLine("Fast path on vs. off (`--fast-path-ab`: the same proxy and backend, `fast_path = false`; ratios on ÷ off):");
            md.AppendLine();
            foreach (var line in ab)
            {
                md.AppendLine("- " + line);
            }
        }

        md.AppendLine();
        md.AppendLine("Earlier targets, against the direct call:");
        md.AppendLine();
        foreach (var line in EarlierTargets(results))
        {
            md.AppendLine("- " + line);
        }

        return md.ToString();
    }

    private static RunResult? Find(IReadOnlyList<RunResult> results, string prefix, Era era, int concurrency) =>
        results.FirstOrDefault(r => r.Concurrency == concurrency && r.Era == era && r.Errors >= 0 && r.Target.StartsWith(prefix, StringComparison.Ordinal));

    private static string Met(bool met) => met ? "met" : "not met";

    private static IEnumerable<TargetLine> Targets(IReadOnlyList<RunResult> all, Extras extras, BenchOptions options)
    {
        var c = CultureInfo.InvariantCulture;
        IReadOnlyList<RunResult> results = [.. all.Where(r => r.Calls >= MinCallsForCpu)];
        const string proxyHttp = "McpProxy → HTTP";
        var notMeasured = "not measured in this run";
        foreach (var era in new[] { Era.Legacy, Era.Modern })
        {
            var e = era.ToString().ToLowerInvariant();
            foreach (var conc in new[] { 16, 64 })
            {
                var p = Find(results, proxyHttp, era, conc);
                var f = Find(results, Forwarder, era, conc);
                var y = Find(results, Yarp, era, conc);
                if (p is not null && f is not null)
                {
                    var x = p.FrontCpuMsPer1k / f.FrontCpuMsPer1k;
                    yield return new(string.Create(c, $"front CPU per call vs the byte forwarder's, concurrency {conc}"), e,
                        string.Create(c, $"{x:0.00}× ({p.FrontCpuMsPer1k:0} vs {f.FrontCpuMsPer1k:0} ms per 1,000 calls)"), "≤ 1.5×", x <= 1.5);
                }
                else
                {
                    yield return new(string.Create(c, $"front CPU per call vs the byte forwarder's, concurrency {conc}"), e, notMeasured, "≤ 1.5×", null);
                }

                if (p is not null && y is not null)
                {
                    var x = p.CallsPerSecond / y.CallsPerSecond;
                    yield return new(string.Create(c, $"throughput vs YARP's, concurrency {conc}"), e,
                        string.Create(c, $"{x:0.00}× ({p.CallsPerSecond:0} vs {y.CallsPerSecond:0} calls/s)"), "≥ 0.9×", x >= 0.9);
                }
                else
                {
                    yield return new(string.Create(c, $"throughput vs YARP's, concurrency {conc}"), e, notMeasured, "≥ 0.9×", null);
                }
            }

            if (Find(results, proxyHttp, era, 1) is { } p1 && Find(results, Yarp, era, 1) is { } y1)
            {
                var d = p1.P50Ms - y1.P50Ms;
                yield return new("p50 latency vs YARP's, concurrency 1", e, string.Create(c, $"{d:+0.000;-0.000} ms ({p1.P50Ms:0.000} vs {y1.P50Ms:0.000} ms)"), "≤ +0.1 ms", d <= 0.1);
            }
            else
            {
                yield return new("p50 latency vs YARP's, concurrency 1", e, notMeasured, "≤ +0.1 ms", null);
            }

            var allocs = results.Where(r => r.Era == era && r.Errors >= 0 && r.Target.StartsWith(proxyHttp, StringComparison.Ordinal) && !double.IsNaN(r.AllocatedKiBPerCall)).ToList();
            if (allocs.Count > 0)
            {
                var most = allocs.MaxBy(r => r.AllocatedKiBPerCall)!;
                var least = allocs.MinBy(r => r.AllocatedKiBPerCall)!;
                var range = allocs.Count == 1
                    ? string.Create(c, $"{most.AllocatedKiBPerCall:0.0} KiB (concurrency {most.Concurrency})")
                    : string.Create(c, $"{least.AllocatedKiBPerCall:0.0}–{most.AllocatedKiBPerCall:0.0} KiB (concurrency {string.Join(", ", allocs.Select(r => r.Concurrency))})");
                yield return new("managed allocations per call (`dotnet_gc_heap_total_allocated_bytes`)", e, range, "≤ 8 KiB", most.AllocatedKiBPerCall <= 8);
            }
            else
            {
                yield return new("managed allocations per call (`dotnet_gc_heap_total_allocated_bytes`)", e, notMeasured + " (too few calls, or metrics off)", "≤ 8 KiB", null);
            }
        }

        // The npm peers are stdio-to-HTTP gateways: McpProxy's row with the same stdio backend is the one to compare.
        // Their rows are read unfiltered: supergateway completes too few calls for per-call CPU but its rate counts.
        foreach (var peer in new[] { "supergateway", "mcp-proxy (npm)" })
        {
            foreach (var conc in new[] { 16, 64 })
            {
                var what = string.Create(c, $"throughput vs {peer}'s (same stdio backend), concurrency {conc}");
                if (Find(all, "McpProxy → stdio", Era.Legacy, conc) is { } ours && Find(all, peer, Era.Legacy, conc) is { } theirs)
                {
                    // No call completed within the row: the peer's rate is below one call per row, which bounds the ratio.
                    var bound = ours.CallsPerSecond * options.Duration.TotalSeconds;
                    yield return theirs.Calls == 0
                        ? new(what, "legacy", string.Create(c, $"> {bound:0}× ({peer} completed no call in the {options.Duration.TotalSeconds:0} s row; {ours.CallsPerSecond:0} calls/s through McpProxy)"), "≥ 5×", bound >= 5)
                        : new(what, "legacy", string.Create(c, $"{ours.CallsPerSecond / theirs.CallsPerSecond:0.0}× ({ours.CallsPerSecond:0} vs {theirs.CallsPerSecond:0.0} calls/s)"), "≥ 5×", ours.CallsPerSecond >= 5 * theirs.CallsPerSecond);
                }
                else
                {
                    yield return new(what, "legacy", notMeasured + (options.Peers ? "" : " (--no-peers)"), "≥ 5×", null);
                }
            }
        }

        if (extras.Idle is { } idle)
        {
            yield return new("memory per 1,000 idle sessions (RSS growth of a fresh proxy)", "legacy",
                string.Create(c, $"{idle.RssMiBPer1000:0.0} MiB (GC heap {idle.HeapMiBPer1000:+0.0;-0.0} MiB)"), "≤ 10 MiB", idle.RssMiBPer1000 <= 10);
        }
        else
        {
            yield return new("memory per 1,000 idle sessions (RSS growth of a fresh proxy)", "legacy", notMeasured + " (--no-memory)", "≤ 10 MiB", null);
        }

        foreach (var era in new[] { Era.Legacy, Era.Modern })
        {
            var e = era.ToString().ToLowerInvariant();
            if (extras.Large?.FirstOrDefault(l => l.Era == era && !l.FastPathOff) is { } l)
            {
                var mib = l.ResultBytes / 1048576;
                yield return l.Error is null
                    ? new(string.Create(c, $"peak memory for one {mib} MiB result (HTTP backend)"), e,
                        string.Create(c, $"{l.PeakRatio:0.00}× its size (RSS +{l.PeakRssIncreaseBytes / 1048576:0.0} MiB{(l.PeakExact ? "" : ", polled")}; allocated {l.AllocatedRatio:0.0}×)"), "≤ 3×", l.PeakRatio <= 3)
                    : new(string.Create(c, $"peak memory for one {mib} MiB result (HTTP backend)"), e, "the call failed: " + l.Error.Replace('|', '/'), "≤ 3×", null);
            }
            else
            {
                yield return new("peak memory for one 20 MiB result (HTTP backend)", e, notMeasured + " (--no-memory)", "≤ 3×", null);
            }
        }
    }

    private static IEnumerable<string> FastPathAb(IReadOnlyList<RunResult> all, Extras extras)
    {
        var c = CultureInfo.InvariantCulture;
        IReadOnlyList<RunResult> results = [.. all.Where(r => r.Calls >= MinCallsForCpu)];
        foreach (var off in results.Where(r => r.Target == FastPathOff && r.Errors >= 0))
        {
            if (Find(results, "McpProxy → HTTP", off.Era, off.Concurrency) is { } on)
            {
                yield return string.Create(c, $"{off.Era.ToString().ToLowerInvariant()}, concurrency {off.Concurrency}: throughput {on.CallsPerSecond / off.CallsPerSecond:0.00}× ({on.CallsPerSecond:0} vs {off.CallsPerSecond:0} calls/s), " +
                    $"front CPU per call {on.FrontCpuMsPer1k / off.FrontCpuMsPer1k:0.00}× ({on.FrontCpuMsPer1k:0} vs {off.FrontCpuMsPer1k:0} ms/1k), p50 {on.P50Ms:0.000} vs {off.P50Ms:0.000} ms, " +
                    $"allocated {on.AllocatedKiBPerCall:0.0} vs {off.AllocatedKiBPerCall:0.0} KiB per call");
            }
        }

        foreach (var off in extras.Large?.Where(l => l.FastPathOff) ?? [])
        {
            var e = off.Era.ToString().ToLowerInvariant();
            if (extras.Large!.FirstOrDefault(l => l.Era == off.Era && !l.FastPathOff) is { } on)
            {
                yield return off.Error is null && on.Error is null
                    ? string.Create(c, $"{e}, one {off.ResultBytes / 1048576} MiB result: peak RSS {on.PeakRatio:0.00}× vs {off.PeakRatio:0.00}× its size, allocated {on.AllocatedRatio:0.0}× vs {off.AllocatedRatio:0.0}×")
                    : $"{e}, one {off.ResultBytes / 1048576} MiB result: a call failed ({on.Error ?? off.Error})";
            }
        }
    }

    private static IEnumerable<string> EarlierTargets(IReadOnlyList<RunResult> results)
    {
        var c = CultureInfo.InvariantCulture;
        results = [.. results.Where(r => r.Calls >= MinCallsForCpu)];
        const string proxyHttp = "McpProxy → HTTP";
        if (results.Count == 0)
        {
            yield break;
        }

        var low = results.Min(r => r.Concurrency);
        var high = results.Max(r => r.Concurrency);
        if (Find(results, "direct", Era.Legacy, low) is { } d1 && Find(results, proxyHttp, Era.Legacy, low) is { } l1)
        {
            var overhead = (l1.P50Ms / d1.P50Ms) - 1;
            yield return string.Create(c, $"legacy, p50 overhead at concurrency {low} (HTTP backend): {overhead:+0%;-0%} of direct (target ≤ 15%) — {Met(overhead <= 0.15)}");
        }

        if (Find(results, "direct", Era.Legacy, high) is { } dh && Find(results, proxyHttp, Era.Legacy, high) is { } ph)
        {
            var share = ph.CallsPerSecond / dh.CallsPerSecond;
            yield return string.Create(c, $"legacy, throughput at concurrency {high} (HTTP backend): {share:0%} of direct (target ≥ 80%) — {Met(share >= 0.8)}");
        }

        var errors = results.Where(r => r.Target.StartsWith("McpProxy", StringComparison.Ordinal)).Sum(r => Math.Max(0, r.Errors));
        yield return string.Create(c, $"errors through McpProxy under load: {errors} — {Met(errors == 0)}");
    }

    private static string Num(double value) => double.IsNaN(value) ? "" : value.ToString("0", CultureInfo.InvariantCulture);

    private static string Ratio(double value, double? baseline) =>
        baseline is > 0 && !double.IsNaN(value) ? (value / baseline.Value).ToString("0.00", CultureInfo.InvariantCulture) : "—";
}

/// <summary>One issue-16 target: what is compared, for which era, the figure, the requirement, and whether it is met (null: not measured).</summary>
internal sealed record TargetLine(string What, string Era, string Measured, string Required, bool? Met);

/// <summary>The measurements after the load rows: idle sessions, large results, tools/list; and the run's wall time.</summary>
internal sealed record Extras(
    IdleSessionsResult? Idle = null, IReadOnlyList<LargeResultResult>? Large = null, (double P50, double P99) ListDirect = default, (double P50, double P99) ListProxy = default)
{
    public TimeSpan RunTime { get; init; }
}
