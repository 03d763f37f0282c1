#!/usr/bin/env bash
# Where McpProxy's per-call allocations come from, under the benchmark's load (tools/call echo → HTTP backend,
# concurrency 16), one trace per era:
#   bash bench/profile/profile-allocations.sh [out-dir]      (installs dotnet-trace 10.0.750501 as a global tool if missing)
# dotnet-trace's gc-verbose profile samples one allocation per ~100 KB with its type and call stack (GCAllocationTick);
# bench/profile/AllocationReport prints each type's share and the heaviest type + stack pairs. Tracing slows the
# process: read the shares, not the throughput of the traced rows.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-/tmp/mcp-proxy-allocations}"
mkdir -p "$out"
cd "$repo"
export PATH="$PATH:$HOME/.dotnet/tools"
command -v dotnet-trace > /dev/null || dotnet tool install -g dotnet-trace --version 10.0.750501 > /dev/null
dotnet build bench/McpProxy.Benchmarks -c Release -v q -nodeReuse:false > /dev/null
dotnet build bench/profile/AllocationReport -c Release -v q -nodeReuse:false > /dev/null
dotnet run -c Release --no-build --project bench/McpProxy.Benchmarks -- --no-peers --no-replicas --no-floors --no-memory \
  --concurrency 16 --duration 14 --warmup 2 > "$out/bench.log" 2>&1 &
bench=$!
for era in Legacy Modern; do
  until grep -q "McpProxy → HTTP backend    $era" "$out/bench.log"; do sleep 0.5; done
  sleep 3
  pid=$(pgrep -f "McpProxy.Api.dll --config /tmp/mcp-proxy-bench-.*/bench.toml" | head -1)
  timeout 30 dotnet-trace collect -p "$pid" --profile gc-verbose --duration 00:00:00:06 -o "$out/alloc-$era.nettrace" > /dev/null 2>&1 || true
done
wait "$bench"
grep "HTTP backend  " "$out/bench.log"
for era in Legacy Modern; do
  echo "== $era"
  dotnet run -c Release --no-build --project bench/profile/AllocationReport -- "$out/alloc-$era.nettrace" 6 25
done
