using System.Security.Claims;
using System.Text.Json;
using McpProxy.Configuration;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace McpProxy.Calls;

/// <summary>
/// One proxied call as a value: what the routing step (<c>Pipeline/CallRouter</c>) decided once — the backend, the
/// method and item, the caller, the arguments after injection, whether the call is safe to repeat, its cache TTL and
/// the request the backend gets — read by every filter of <c>Pipeline/ProxyPipeline</c>. Built once per call and
/// never changed by the filters.
/// </summary>
/// <remarks>
/// This folder sits low (it knows only the config model) so that every folder's filter can see it. The two members
/// whose types live in folders above are typed <see cref="object"/> here and read through their owner's typed accessor
/// (<c>Backends.BackendCalls.Connection</c>, <c>Sessions.ProgressFilter</c>), as YARP's features are.
/// </remarks>
internal sealed class CallContext
{
    /// <summary>The caller's MCP session (the request-bound server); none for a call taken on the fast path (<see cref="Raw"/>).</summary>
    public McpServer? Session { get; init; }

    /// <summary>
    /// The caller's request as it arrived, for a call taken on the fast path (<c>FastPath/</c>): routed from its bytes,
    /// sent to the backend as bytes (<c>Backends.BackendRawSend</c>). Null on the typed path.
    /// </summary>
    public RawCall? Raw { get; init; }

    /// <summary>The caller's protocol version (telemetry): its session's on the typed path, set by the fast path.</summary>
    public string? ProtocolVersion
    {
        get => _protocolVersion ?? Session?.NegotiatedProtocolVersion;
        init => _protocolVersion = value;
    }

    /// <summary>The caller's session id (telemetry), when it has a session: its session's on the typed path, set by the fast path.</summary>
    public string? SessionId
    {
        get => _sessionId ?? Session?.SessionId;
        init => _sessionId = value;
    }

    private readonly string? _protocolVersion;
    private readonly string? _sessionId;

    /// <summary>The JSON-RPC method sent to the backend (<c>tools/call</c>, <c>resources/read</c>…).</summary>
    public required string Method { get; init; }

    /// <summary>What the item is, for errors and the resilience pipeline: tool, prompt, resource, completion.</summary>
    public required string Kind { get; init; }

    /// <summary>The item as the caller named it (namespaced).</summary>
    public required string Item { get; init; }

    /// <summary>The item as the backend names it.</summary>
    public required string OriginalItem { get; init; }

    /// <summary>The backend's name.</summary>
    public required string BackendName { get; init; }

    /// <summary>The backend's config (forward_auth, cache limits…).</summary>
    public required BackendConfig BackendConfig { get; init; }

    /// <summary>The <c>Backends.BackendConnection</c> the call goes to (typed by <c>Backends.BackendCalls.Connection</c>).</summary>
    public required object Backend { get; init; }

    /// <summary>The caller.</summary>
    public ClaimsPrincipal? User { get; init; }

    /// <summary>The caller's identity as keys and logs name it (computed once per call).</summary>
    public required string Caller { get; init; }

    /// <summary>
    /// The arguments the backend gets, after injection (tools only). On the fast path they are read from the request's
    /// bytes only when a filter asks (the audit line, a cache or coalescing key).
    /// </summary>
    public IDictionary<string, JsonElement>? Arguments
    {
        get => _arguments ??= Method == RequestMethods.ToolsCall ? Raw?.Arguments() : null;
        init => _arguments = value;
    }

    /// <summary>Safe to repeat: retries, hedging and coalescing may run it more than once (the rule: <c>Routing.BackendRoute</c>).</summary>
    public bool Repeatable { get; init; }

    /// <summary>How long a successful result is cached; <see langword="null"/>: not cached (the rule: <c>Routing.BackendRoute</c>).</summary>
    public TimeSpan? CacheTtl { get; init; }

    /// <summary>
    /// The request params the backend gets (original name or URI, injected arguments, forwarded <c>_meta</c>). On the
    /// fast path they are built from the request's bytes only when something needs the typed model (a mirror's copy).
    /// </summary>
    public RequestParams Forwarded
    {
        get => _forwarded ??= Raw?.ToTyped(Method, OriginalItem) ?? throw new InvalidOperationException("A call has no forwarded params.");
        init => _forwarded = value;
    }

    /// <summary>The caller's <c>Sessions.ClientSession</c>, when it is a tracked session (read by <c>Sessions.ProgressFilter</c>).</summary>
    public object? ClientSession { get; init; }

    /// <summary>How many messages had been queued for the caller's session when the call began.</summary>
    public long EnqueuedBefore { get; init; }

    /// <summary>The call's cache and coalescing key, computed by the first filter that needs it (<c>Caching.CacheKeys</c>).</summary>
    public string? CacheKey { get; set; }

    private IDictionary<string, JsonElement>? _arguments;
    private RequestParams? _forwarded;

    /// <summary>Whether the result counts as a success (a tool's <c>isError</c> result does not: not cached, counted as <c>tool_error</c>).</summary>
    public static bool Succeeded(object result) => result is not (CallToolResult { IsError: true } or RawResult { IsError: true });

    /// <summary>
    /// Whether a result may be stored or shared: a success that is final (a raw <c>input_required</c> answer is not: the
    /// fast path hands that call to the typed path, which runs its rounds).
    /// </summary>
    public static bool Storable(object result) => Succeeded(result) && result is not RawResult { InputRequired: true };
}
