using McpProxy.Calls;

namespace McpProxy.Backends;

/// <summary>The typed view of a call's backend (<see cref="CallContext.Backend"/>).</summary>
internal static class BackendCalls
{
    public static BackendConnection Connection(this CallContext call) => (BackendConnection)call.Backend;
}
