using McpProxy.Backends;
using McpProxy.Calls;
using ModelContextProtocol.Protocol;

namespace McpProxy.Mirroring;

/// <summary>Traffic mirroring: a sampled copy of <c>tools/call</c>, <c>prompts/get</c> and <c>resources/read</c> goes to the backend's mirrors, fire-and-forget (<see cref="TrafficMirror"/>).</summary>
internal sealed class MirrorFilter(TrafficMirror mirror) : ICallFilter
{
    public ValueTask<object> InvokeAsync(CallContext call, CallDelegate next, CancellationToken cancellationToken)
    {
        if (call.Method is RequestMethods.ToolsCall or RequestMethods.PromptsGet or RequestMethods.ResourcesRead)
        {
            mirror.Mirror(call);
        }

        return next(call, cancellationToken);
    }
}
