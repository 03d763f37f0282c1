using System.Text.Json;
using McpProxy.Backends;
using McpProxy.Calls;
using McpProxy.Resilience;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpProxy.Mirroring;

/// <summary>
/// Traffic mirroring (<c>mirror_of</c>, <c>mirror_percent</c>): a copy of a sampled share of the <c>tools/call</c>,
/// <c>resources/read</c> and <c>prompts/get</c> requests routed to a backend goes to its mirrors, fire-and-forget: the
/// primary call never waits for the mirror and never sees its errors, which are counted instead.
/// </summary>
internal sealed partial class TrafficMirror(ResilienceMetrics metrics, ILogger<TrafficMirror> logger)
{
    private IReadOnlyDictionary<string, BackendConnection[]> _mirrorsByPrimary = new Dictionary<string, BackendConnection[]>();
    private long _sent;
    private long _failed;

    public long Sent => Interlocked.Read(ref _sent);
    public long Failed => Interlocked.Read(ref _failed);

    public void SetMirrors(IEnumerable<BackendConnection> mirrors) =>
        _mirrorsByPrimary = mirrors.GroupBy(m => m.Config.MirrorOf!, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToArray(), StringComparer.Ordinal);

    /// <summary>
    /// Sends a sampled copy of the call's params (without <c>_meta</c>) to each mirror of its backend. The params are
    /// read only when a mirror takes the call: a fast-path call has none in typed form until then.
    /// </summary>
    public void Mirror(CallContext call)
    {
        if (_mirrorsByPrimary.Count == 0 || !_mirrorsByPrimary.TryGetValue(call.BackendName, out var mirrors))
        {
            return;
        }

        var method = call.Method;

        foreach (var mirror in mirrors)
        {
            if (Random.Shared.NextDouble() * 100 >= mirror.Config.MirrorPercent)
            {
                continue;
            }

            var parameters = call.Forwarded;
            var node = JsonSerializer.SerializeToNode(parameters, parameters.GetType(), McpJsonUtilities.DefaultOptions)!.AsObject(); // its own type: the params may come as RequestParams
            node.Remove("_meta"); // the caller's progress token belongs to the primary call
            _ = SendAsync(mirror, method, node);
        }
    }

    private async Task SendAsync(BackendConnection mirror, string method, System.Text.Json.Nodes.JsonObject parameters)
    {
        Interlocked.Increment(ref _sent);
        try
        {
            await Task.Yield(); // never on the primary call's path
            using var timeout = new CancellationTokenSource(mirror.CallTimeout);
            var response = await mirror.GetClientOrThrow().SendRequestAsync(new JsonRpcRequest { Method = method, Params = parameters }, timeout.Token);
            metrics.Mirrored(mirror.Name, "ok");
        }
        catch (Exception ex)
        {
            Interlocked.Increment(ref _failed);
            metrics.Mirrored(mirror.Name, "error");
            LogMirrorFailed(mirror.Name, method, ex.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Mirror '{Mirror}' failed on {Method}: {Error}")]
    private partial void LogMirrorFailed(string mirror, string method, string error);
}
