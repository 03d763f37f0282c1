using System.Collections.Concurrent;
using ModelContextProtocol.Server;

namespace McpProxy.Backends.Sample;

/// <summary>
/// Process-wide state of one sample server: its options, counters and the runtime-mutable tool collection
/// shared by every session (stdio and all HTTP sessions), so a change reaches every connected client.
/// </summary>
internal sealed class SampleState(SampleOptions options)
{
    private readonly Random _random = options.Seed is { } seed ? new Random(seed) : new Random();
    private readonly Lock _randomLock = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, TaskCompletionSource> _holds = new(StringComparer.Ordinal);
    private long _toolCalls;
    private long _cancellations;
    private int _crashRequested;

    public SampleOptions Options { get; } = options;

    /// <summary>The tool collection every session's <see cref="McpServerOptions.ToolCollection"/> points at.</summary>
    public McpServerPrimitiveCollection<McpServerTool> Tools { get; } = [];

    /// <summary>
    /// Every resource URI this server received, as <c>"{method} {uri}"</c> (<c>resources/read</c>,
    /// <c>resources/subscribe</c>, <c>resources/unsubscribe</c>, <c>completion/complete</c> for a template reference), in
    /// arrival order: lets a test see exactly which URI reached the backend.
    /// </summary>
    public ConcurrentQueue<string> ReceivedUris { get; } = new();

    /// <summary>The method of every JSON-RPC request this server received (all sessions), in arrival order.</summary>
    public ConcurrentQueue<string> ReceivedMethods { get; } = new();

    public long ToolCalls => Interlocked.Read(ref _toolCalls);

    public long Cancellations => Interlocked.Read(ref _cancellations);

    public bool CrashRequested => Volatile.Read(ref _crashRequested) != 0;

    /// <summary>Counts a tool call and returns its 1-based ordinal.</summary>
    public long BeginCall() => Interlocked.Increment(ref _toolCalls);

    public void RecordCancellation() => Interlocked.Increment(ref _cancellations);

    /// <summary>True exactly once: for the caller that gets to trigger the crash.</summary>
    public bool TryRequestCrash() => Interlocked.Exchange(ref _crashRequested, 1) == 0;

    /// <summary>Completes when <see cref="Release"/> is called with <paramref name="name"/> (before or after).</summary>
    public Task Hold(string name) => Gate(name).Task;

    public void Release(string name) => Gate(name).TrySetResult();

    private TaskCompletionSource Gate(string name) => _holds.GetOrAdd(name, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    public bool ShouldInjectError()
    {
        if (Options.ErrorRate <= 0)
        {
            return false;
        }

        lock (_randomLock)
        {
            return _random.NextDouble() < Options.ErrorRate;
        }
    }
}
