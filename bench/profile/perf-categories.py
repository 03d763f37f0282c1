"""Share of a `perf script` profile's samples by component: inclusive (any frame of the stack is in it) and self (the
sampled frame is). Reads `perf script` output on stdin. Kestrel, HttpClient and the kernel's loopback work are paid by
every front (the floors too); the MCP SDK, Polly, OpenTelemetry and McpProxy's own frames are what the proxy adds."""
import collections
import sys

CATEGORIES = [
    ("McpProxy code", "[McpProxy.Api]"),
    ("MCP SDK (ModelContextProtocol.*)", "[ModelContextProtocol"),
    ("Polly", "[Polly"),
    ("OpenTelemetry SDK", "[OpenTelemetry"),
    ("System.Diagnostics (Activity/Metrics)", "[System.Diagnostics.DiagnosticSource]"),
    ("System.Text.Json", "[System.Text.Json]"),
    ("Kestrel / ASP.NET Core", "[Microsoft.AspNetCore"),
    ("HttpClient (System.Net.Http)", "[System.Net.Http]"),
    ("StackExchange.Redis", "[StackExchange.Redis"),
    ("JIT (libclrjit: tier-up)", "libclrjit.so"),
    ("runtime native (libcoreclr: GC, casts, stubs)", "libcoreclr.so"),
    ("kernel (loopback TCP, scheduling)", "[kernel.kallsyms]"),
]

total = 0
inclusive = collections.Counter()
self_ = collections.Counter()
for block in sys.stdin.read().split("\n\n"):
    frames = [line.strip() for line in block.strip().split("\n")[1:] if line.strip()]
    if not frames:
        continue
    total += 1
    for name, key in CATEGORIES:
        if any(key in frame for frame in frames):
            inclusive[name] += 1
    for name, key in CATEGORIES:
        if key in frames[0]:
            self_[name] += 1
            break

print(f"samples {total}")
for name, _ in CATEGORIES:
    print(f"{name:48s} inclusive {100 * inclusive[name] / max(1, total):5.1f}%  self {100 * self_[name] / max(1, total):5.1f}%")
