using McpProxy.Backends;
using McpProxy.Caching;
using McpProxy.Calls;
using McpProxy.Eras;
using McpProxy.Mrtr;
using McpProxy.Observability;
using McpProxy.Routing;
using McpProxy.Sessions;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace McpProxy.Pipeline;

/// <summary>
/// The MCP request handlers of the proxy's server side, as thin adapters: list requests answer from the aggregate
/// <see cref="ProxyCatalog"/> filtered by the caller's roles; item requests are routed (<see cref="CallRouter"/>) and
/// run through the call pipeline (<see cref="ProxyPipeline"/>).
/// </summary>
internal sealed class ProxyHandlers(
    ProxyCatalog catalog, SessionHub sessions, CallRouter router, ProxyPipeline pipeline, MrtrBridge mrtr, BackendSubscriptions listens)
{
    public ValueTask<ListToolsResult> ListToolsAsync(RequestContext<ListToolsRequestParams> context, CancellationToken ct)
    {
        var caller = router.Access(context.User);
        var snapshot = catalog.Current;
        var tools = snapshot.Tools;
        return Hinted(context, new ListToolsResult { Tools = caller.AllTools ? tools : [.. tools.Where(t => caller.CanUseTool(snapshot.ToolsByName[t.Name].CanonicalName))] }, !caller.AllTools);
    }

    public ValueTask<ListPromptsResult> ListPromptsAsync(RequestContext<ListPromptsRequestParams> context, CancellationToken ct)
    {
        var caller = router.Access(context.User);
        var snapshot = catalog.Current;
        var prompts = snapshot.Prompts;
        return Hinted(context, new ListPromptsResult { Prompts = caller.AllPrompts ? prompts : [.. prompts.Where(p => caller.CanUsePrompt(snapshot.PromptsByName[p.Name].CanonicalName))] }, !caller.AllPrompts);
    }

    public ValueTask<ListResourcesResult> ListResourcesAsync(RequestContext<ListResourcesRequestParams> context, CancellationToken ct)
    {
        var caller = router.Access(context.User);
        var snapshot = catalog.Current; // one snapshot: the policy URIs are index-aligned with its resources
        var resources = snapshot.Resources;
        return Hinted(context, new ListResourcesResult
        {
            Resources = caller.AllResources ? resources : [.. resources.Where((_, i) => caller.CanUseResource(snapshot.ResourcePolicyUris[i]))],
        }, !caller.AllResources);
    }

    public ValueTask<ListResourceTemplatesResult> ListResourceTemplatesAsync(RequestContext<ListResourceTemplatesRequestParams> context, CancellationToken ct)
    {
        var caller = router.Access(context.User);
        var snapshot = catalog.Current; // one snapshot: the policy URIs are index-aligned with its templates
        var templates = snapshot.ResourceTemplates;
        return Hinted(context, new ListResourceTemplatesResult
        {
            ResourceTemplates = caller.AllResources ? templates : [.. templates.Where((_, i) => caller.CanUseResource(snapshot.TemplatePolicyUris[i]))],
        }, !caller.AllResources);
    }

    /// <summary>
    /// A modern (2026-07-28) caller gets the list's caching hints (<see cref="CacheHints.ForList"/>: private when its role
    /// filtered the list); a legacy session's answer stays as it always was.
    /// </summary>
    private static ValueTask<T> Hinted<T, TParams>(RequestContext<TParams> context, T result, bool filtered)
        where T : ICacheableResult =>
        ValueTask.FromResult(ModernEra.IsModern(context.Server) ? CacheHints.ForList(result, filtered) : result);

    public async ValueTask<CallToolResult> CallToolAsync(RequestContext<CallToolRequestParams> context, CancellationToken ct)
    {
        if (ModernEra.IsModern(context.Server))
        {
            return (CallToolResult)await ModernAsync(context, RequestMethods.ToolsCall, context.Params?.Name, () => (router.Tool(context, out var c), c), ct);
        }

        using var scope = router.Tool(context, out var call);
        return (CallToolResult)await pipeline.CallAsync(call, ct);
    }

    public async ValueTask<GetPromptResult> GetPromptAsync(RequestContext<GetPromptRequestParams> context, CancellationToken ct)
    {
        if (ModernEra.IsModern(context.Server))
        {
            return (GetPromptResult)await ModernAsync(context, RequestMethods.PromptsGet, context.Params?.Name, () => (router.Prompt(context, out var c), c), ct);
        }

        using var scope = router.Prompt(context, out var call);
        return (GetPromptResult)await pipeline.CallAsync(call, ct);
    }

    public async ValueTask<ReadResourceResult> ReadResourceAsync(RequestContext<ReadResourceRequestParams> context, CancellationToken ct)
    {
        if (ModernEra.IsModern(context.Server))
        {
            return (ReadResourceResult)await ModernAsync(context, RequestMethods.ResourcesRead, context.Params?.Uri, () => (router.Read(context, out var c), c), ct);
        }

        using var scope = router.Read(context, out var call);
        var result = (ReadResourceResult)await pipeline.CallAsync(call, ct);
        router.NamespaceContents(call, result);
        return result;
    }

    /// <summary>
    /// A modern caller's call, which may take several round trips (Multi Round-Trip Requests, <see cref="MrtrBridge"/>):
    /// a retry with a parked exchange's state resumes it; otherwise the call is routed (a pass-through state gives the
    /// backend its own state and the caller's answers back) and run as a <see cref="BridgeCall"/>.
    /// </summary>
    private async Task<object> ModernAsync<TParams>(
        RequestContext<TParams> context, string method, string? item, Func<(SessionHub.CallScope Scope, CallContext Call)> route, CancellationToken ct)
        where TParams : RequestParams
    {
        var caller = CallerIdentity.Of(context.User);
        var state = mrtr.Open(context.Params, method, item ?? "", caller);
        if (state is { Kind: StateKind.Bridge })
        {
            return await mrtr.ResumeAsync(state, context.Params!, ct);
        }

        var (scope, call) = route();
        try
        {
            if (state is not null)
            {
                if (state.Backend != call.BackendName)
                {
                    throw RequestStateProtector.Refused("it was issued for another backend");
                }

                call.Forwarded.RequestState = state.BackendState;
                call.Forwarded.InputResponses = context.Params!.InputResponses;
            }

            var bridged = mrtr.Begin(context.Server, new MrtrTarget(call.BackendName, method, item ?? "", caller), context.Server.ClientCapabilities);
            (call.Forwarded.Meta ??= [])[PassThroughSlot.MetaKey] = bridged.SlotId;
            var owned = scope;
            scope = default; // the background call owns it now
            bridged.Start(async token =>
            {
                using (owned)
                {
                    var result = await pipeline.CallAsync(call, token);
                    if (result is ReadResourceResult read)
                    {
                        router.NamespaceContents(call, read);
                    }

                    return result;
                }
            });
            return await bridged.NextAsync(ct);
        }
        finally
        {
            scope.Dispose();
        }
    }

    public async ValueTask<CompleteResult> CompleteAsync(RequestContext<CompleteRequestParams> context, CancellationToken ct)
    {
        using var scope = router.Complete(context, out var call);
        return call is null ? new CompleteResult() : (CompleteResult)await pipeline.CallAsync(call, ct);
    }

    public async ValueTask<EmptyResult> SubscribeAsync(RequestContext<SubscribeRequestParams> context, CancellationToken ct)
    {
        var call = router.Subscribe(context);
        await pipeline.SubscriptionAsync(call, ct);
        sessions.Subscribe(context.Server, call.Item);
        return new EmptyResult();
    }

    public async ValueTask<EmptyResult> UnsubscribeAsync(RequestContext<UnsubscribeRequestParams> context, CancellationToken ct)
    {
        var call = router.Unsubscribe(context);
        // The backend stays subscribed while another session or a modern listen stream still watches the URI.
        if (sessions.Unsubscribe(context.Server, call.Item) && !listens.IsWatched(call.Item) && call.Connection().State == BackendState.Ready)
        {
            await pipeline.SubscriptionAsync(call, ct);
        }

        return new EmptyResult();
    }

    /// <summary>The level is the calling session's own: the proxy filters what it relays to it (<see cref="SessionHub.SetLogLevelAsync"/>).</summary>
    public async ValueTask<EmptyResult> SetLoggingLevelAsync(RequestContext<SetLevelRequestParams> context, CancellationToken ct)
    {
        var level = context.Params?.Level ?? throw new McpProtocolException("Missing params for logging/setLevel.", McpErrorCode.InvalidParams);
        router.CheckSize(context, "");
        await sessions.SetLogLevelAsync(context.Server, level, ct);
        return new EmptyResult();
    }
}
