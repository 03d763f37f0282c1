#!/usr/bin/env bash
# CPU profile of McpProxy under the benchmark's load (tools/call echo → HTTP backend, concurrency 16), one per era.
#   bash bench/profile/profile-proxy.sh [out-dir]      (needs perf: apt-get install linux-perf; run as root)
# The proxy runs with DOTNET_PerfMapEnabled=1 (the runtime writes /tmp/perf-<pid>.map, so perf names JIT-compiled
# methods) and DOTNET_EnableWriteXorExecute=0 (otherwise JIT code sits in a "memfd:doublemapper" mapping perf cannot
# resolve). perf samples the cpu-clock software event (no hardware counters needed, as on this VM) with call stacks,
# 8 s from 3 s into each row; the rows run after the benchmark's pre-warm, so tier-up compilation is over.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-/tmp/mcp-proxy-profile}"
mkdir -p "$out"
cd "$repo"
dotnet build bench/McpProxy.Benchmarks -c Release -v q -nodeReuse:false >/dev/null
dotnet run -c Release --no-build --project bench/McpProxy.Benchmarks -- --no-peers --no-replicas --no-floors \
  --concurrency 16 --duration 14 --warmup 2 \
  --proxy-env DOTNET_PerfMapEnabled=1 --proxy-env DOTNET_EnableWriteXorExecute=0 > "$out/bench.log" 2>&1 &
bench=$!
for era in Legacy Modern; do
  until grep -q "McpProxy → HTTP backend    $era" "$out/bench.log"; do sleep 0.5; done
  sleep 3
  pid=$(pgrep -f "McpProxy.Api.dll --config /tmp/mcp-proxy-bench-.*/bench.toml" | head -1)
  perf record -F 499 -g -e cpu-clock -p "$pid" -o "$out/perf-$era.data" -- sleep 8 > /dev/null 2>&1
done
wait "$bench"
grep "HTTP backend  " "$out/bench.log"
for era in Legacy Modern; do
  echo "== $era"
  perf script -i "$out/perf-$era.data" 2>/dev/null | python3 "$repo/bench/profile/perf-categories.py"
done
echo "flat profile: perf report -i $out/perf-Legacy.data --no-children --sort sym"
