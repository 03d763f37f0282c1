using System.Buffers;

namespace McpProxy.Calls;

/// <summary>
/// The pool of the fast path's per-call buffers (the caller's request, the backend's body, the SSE answer being read).
/// Sized for concurrency: the shared pool keeps a handful of arrays per size per core, so at 64 calls in flight its
/// buckets run dry and every miss allocates — its own and what System.Text.Json rents from it. This one keeps up to 512
/// arrays per size (up to 1 MiB; larger ones are not pooled), taken as they are first needed.
/// </summary>
internal static class CallBuffers
{
    public static ArrayPool<byte> Pool { get; } = ArrayPool<byte>.Create(maxArrayLength: 1024 * 1024, maxArraysPerBucket: 512);
}
