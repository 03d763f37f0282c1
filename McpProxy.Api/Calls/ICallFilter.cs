namespace McpProxy.Calls;

/// <summary>The rest of the pipeline after a filter: the next filter, or the send.</summary>
internal delegate ValueTask<object> CallDelegate(CallContext call, CancellationToken cancellationToken);

/// <summary>
/// One step of the call pipeline (<c>Pipeline/ProxyPipeline</c>): does its part around <paramref name="next"/>, or
/// answers without it (a cache hit, a refusal). Filters are singletons and hold no per-call state.
/// </summary>
internal interface ICallFilter
{
    ValueTask<object> InvokeAsync(CallContext call, CallDelegate next, CancellationToken cancellationToken);
}

/// <summary>
/// What the failure classifier (<c>Resilience</c>) says about a failed call, for the telemetry filter below it
/// (<c>Observability</c> cannot see the exception types the resilience layer throws).
/// </summary>
internal interface ICallFailures
{
    /// <summary>The proxy refused the call itself (shutting down, circuit open, rate limited, ejected, budget spent).</summary>
    bool IsRefusal(Exception exception);

    /// <summary>The backend's own JSON-RPC error, wrapped: its words may echo the caller's arguments.</summary>
    bool IsBackendError(Exception exception);

    /// <summary>The shutdown drain has begun.</summary>
    bool IsStopping { get; }
}
