using System.Diagnostics;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Nodes;
using McpProxy.Backends;
using McpProxy.Caching;
using McpProxy.Configuration;
using McpProxy.Observability;
using McpProxy.Resilience;
using McpProxy.Security;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace McpProxy.Routing;

/// <summary>
/// The MCP request handlers of the proxy's server side: list requests answer from the aggregate
/// <see cref="ProxyCatalog"/>; item requests are routed to the owning backend with the original name, the caller's
/// <c>_meta</c> as rewritten by <see cref="SessionHub.ForwardedMeta"/>, progress relayed back and the caller's
/// cancellation passed on. Unknown or hidden items get
/// <c>-32602</c> naming the item, and nothing reaches a backend.
/// </summary>
internal sealed partial class ProxyHandlers(
    ProxyCatalog catalog,
    SessionHub sessions,
    TrafficMirror mirror,
    InFlightCalls inFlight,
    ResponseCache cache,
    RequestCoalescer coalescer,
    ProxyTelemetry telemetry,
    BackendMetrics backendMetrics,
    ProxyConfig config,
    AccessPolicy access,
    ILogger<ProxyHandlers> logger)
{
    public ValueTask<ListToolsResult> ListToolsAsync(RequestContext<ListToolsRequestParams> context, CancellationToken ct)
    {
        var caller = Access(context.User);
        var snapshot = catalog.Current;
        var tools = snapshot.Tools;
        return ValueTask.FromResult(new ListToolsResult { Tools = caller.AllTools ? tools : [.. tools.Where(t => caller.CanUseTool(snapshot.ToolsByName[t.Name].CanonicalName))] });
    }

    public ValueTask<ListPromptsResult> ListPromptsAsync(RequestContext<ListPromptsRequestParams> context, CancellationToken ct)
    {
        var caller = Access(context.User);
        var snapshot = catalog.Current;
        var prompts = snapshot.Prompts;
        return ValueTask.FromResult(new ListPromptsResult { Prompts = caller.AllPrompts ? prompts : [.. prompts.Where(p => caller.CanUsePrompt(snapshot.PromptsByName[p.Name].CanonicalName))] });
    }

    public ValueTask<ListResourcesResult> ListResourcesAsync(RequestContext<ListResourcesRequestParams> context, CancellationToken ct)
    {
        var caller = Access(context.User);
        var snapshot = catalog.Current; // one snapshot: the policy URIs are index-aligned with its resources
        var resources = snapshot.Resources;
        return ValueTask.FromResult(new ListResourcesResult
        {
            Resources = caller.AllResources ? resources : [.. resources.Where((_, i) => caller.CanUseResource(snapshot.ResourcePolicyUris[i]))],
        });
    }

    public ValueTask<ListResourceTemplatesResult> ListResourceTemplatesAsync(RequestContext<ListResourceTemplatesRequestParams> context, CancellationToken ct)
    {
        var caller = Access(context.User);
        var snapshot = catalog.Current; // one snapshot: the policy URIs are index-aligned with its templates
        var templates = snapshot.ResourceTemplates;
        return ValueTask.FromResult(new ListResourceTemplatesResult
        {
            ResourceTemplates = caller.AllResources ? templates : [.. templates.Where((_, i) => caller.CanUseResource(snapshot.TemplatePolicyUris[i]))],
        });
    }

    public async ValueTask<CallToolResult> CallToolAsync(RequestContext<CallToolRequestParams> context, CancellationToken ct)
    {
        var request = context.Params ?? throw new McpProtocolException("Missing params for tools/call.", McpErrorCode.InvalidParams);
        CheckSize(context, request.Name);
        // Roles decide on the canonical name (as config spells it), whatever the name policy exposes.
        var listed = catalog.Current.ToolsByName.TryGetValue(request.Name, out var routed);
        if (!Access(context.User).CanUseTool(listed ? routed!.CanonicalName : request.Name))
        {
            throw Forbidden("tool", request.Name, context.User);
        }

        if (!listed && !catalog.TryPassthroughTool(request.Name, out routed))
        {
            throw Unknown("tool", request.Name);
        }

        var backend = routed!.Backend;
        using var scope = sessions.BeginCall(context.Server, request, backend, out var meta);
        var forwarded = new CallToolRequestParams
        {
            Name = routed.OriginalName,
            Arguments = routed.Route.Injector.Apply(routed.OriginalName, request.Arguments),
            Meta = meta,
        };

        mirror.Mirror(backend, RequestMethods.ToolsCall, forwarded);
        return await ProxyAsync(
            new ProxyCall(context.Server, RequestMethods.ToolsCall, backend, "tool", request.Name, routed.OriginalName, context.User, forwarded.Arguments, routed.Repeatable, routed.CacheTtl, scope),
            (client, c) => CallWithCancellationAsync(client, forwarded, c),
            static r => r.IsError != true,
            ct);
    }

    public async ValueTask<GetPromptResult> GetPromptAsync(RequestContext<GetPromptRequestParams> context, CancellationToken ct)
    {
        var request = context.Params ?? throw new McpProtocolException("Missing params for prompts/get.", McpErrorCode.InvalidParams);
        CheckSize(context, request.Name);
        var listed = catalog.Current.PromptsByName.TryGetValue(request.Name, out var routed);
        if (!Access(context.User).CanUsePrompt(listed ? routed!.CanonicalName : request.Name))
        {
            throw Forbidden("prompt", request.Name, context.User);
        }

        if (!listed && !catalog.TryPassthroughPrompt(request.Name, out routed))
        {
            throw Unknown("prompt", request.Name);
        }

        using var scope = sessions.BeginCall(context.Server, request, routed!.Backend, out var meta);
        var forwarded = new GetPromptRequestParams { Name = routed.OriginalName, Arguments = request.Arguments, Meta = meta };
        mirror.Mirror(routed.Backend, RequestMethods.PromptsGet, forwarded);
        return await ProxyAsync(
            new ProxyCall(context.Server, RequestMethods.PromptsGet, routed.Backend, "prompt", request.Name, routed.OriginalName, context.User, null, Repeatable: true, CacheTtl: null, scope),
            (client, c) => client.GetPromptAsync(forwarded, c),
            static _ => true,
            ct);
    }

    public async ValueTask<ReadResourceResult> ReadResourceAsync(RequestContext<ReadResourceRequestParams> context, CancellationToken ct)
    {
        var request = context.Params ?? throw new McpProtocolException("Missing params for resources/read.", McpErrorCode.InvalidParams);
        CheckSize(context, request.Uri);
        var (route, originalUri, namespacedUri) = ResolveResource(context.User, request.Uri);
        using var scope = sessions.BeginCall(context.Server, request, route.Backend, out var meta);
        var forwarded = new ReadResourceRequestParams { Uri = originalUri, Meta = meta };
        mirror.Mirror(route.Backend, RequestMethods.ResourcesRead, forwarded);
        var ttl = route.Backend.Config.Cache is { ResourceTtlSeconds: > 0 } cacheConfig ? TimeSpan.FromSeconds(cacheConfig.ResourceTtlSeconds) : (TimeSpan?)null;
        var result = await ProxyAsync(
            new ProxyCall(context.Server, RequestMethods.ResourcesRead, route.Backend, "resource", namespacedUri, originalUri, context.User, null, Repeatable: true, ttl, scope),
            (client, c) => client.ReadResourceAsync(forwarded, c),
            static _ => true,
            ct);

        // Contents carry the backend's URIs; give them back namespaced so they round-trip through the proxy.
        foreach (var content in result.Contents)
        {
            content.Uri = catalog.Namespace(route.Backend.Name, content.Uri);
        }

        return result;
    }

    public async ValueTask<CompleteResult> CompleteAsync(RequestContext<CompleteRequestParams> context, CancellationToken ct)
    {
        var request = context.Params ?? throw new McpProtocolException("Missing params for completion/complete.", McpErrorCode.InvalidParams);
        CheckSize(context, DescribeReference(request.Ref));
        BackendConnection backend;
        Reference reference;
        string item;
        switch (request.Ref)
        {
            case PromptReference prompt:
                var listedPrompt = catalog.Current.PromptsByName.TryGetValue(prompt.Name, out var routedPrompt);
                if (!Access(context.User).CanUsePrompt(listedPrompt ? routedPrompt!.CanonicalName : prompt.Name))
                {
                    throw Forbidden("prompt", prompt.Name, context.User);
                }

                if (!listedPrompt && !catalog.TryPassthroughPrompt(prompt.Name, out routedPrompt))
                {
                    throw Unknown("prompt", prompt.Name);
                }

                backend = routedPrompt!.Backend;
                reference = new PromptReference { Name = routedPrompt.OriginalName, Title = prompt.Title };
                item = prompt.Name;
                break;

            case ResourceTemplateReference template:
                var (route, originalUri, namespacedUri) = ResolveResource(context.User, template.Uri ?? "");
                backend = route.Backend;
                reference = new ResourceTemplateReference { Uri = originalUri };
                item = namespacedUri;
                break;

            default:
                throw new McpProtocolException("Unsupported completion reference.", McpErrorCode.InvalidParams);
        }

        if (backend.GetClientOrThrow().ServerCapabilities.Completions is null)
        {
            return new CompleteResult();
        }

        using var scope = sessions.BeginCall(context.Server, request, backend, out var meta);
        var forwarded = new CompleteRequestParams { Ref = reference, Argument = request.Argument, Context = request.Context, Meta = meta };
        return await ProxyAsync(
            new ProxyCall(context.Server, RequestMethods.CompletionComplete, backend, "completion", item, item, context.User, null, Repeatable: true, CacheTtl: null, scope),
            (client, c) => client.CompleteAsync(forwarded, c),
            static _ => true,
            ct);
    }

    public async ValueTask<EmptyResult> SubscribeAsync(RequestContext<SubscribeRequestParams> context, CancellationToken ct)
    {
        var request = context.Params ?? throw new McpProtocolException("Missing params for resources/subscribe.", McpErrorCode.InvalidParams);
        CheckSize(context, request.Uri);
        var (route, originalUri, namespacedUri) = ResolveResource(context.User, request.Uri);
        if (route.Backend.GetClientOrThrow().ServerCapabilities.Resources?.Subscribe != true)
        {
            throw new McpProtocolException($"Backend '{route.Backend.Name}' does not support resource subscriptions.", McpErrorCode.InvalidParams);
        }

        await InvokeAsync(route.Backend, "resource", namespacedUri, repeatable: true, async (client, c) =>
        {
            await client.SubscribeToResourceAsync(new SubscribeRequestParams { Uri = originalUri }, c);
            return new EmptyResult();
        }, ct, RequestMethods.ResourcesSubscribe, originalUri);
        sessions.Subscribe(context.Server, namespacedUri);
        return new EmptyResult();
    }

    public async ValueTask<EmptyResult> UnsubscribeAsync(RequestContext<UnsubscribeRequestParams> context, CancellationToken ct)
    {
        var request = context.Params ?? throw new McpProtocolException("Missing params for resources/unsubscribe.", McpErrorCode.InvalidParams);
        CheckSize(context, request.Uri);
        var (route, originalUri, namespacedUri) = ResolveResource(context.User, request.Uri);
        if (sessions.Unsubscribe(context.Server, namespacedUri) && route.Backend.State == BackendState.Ready)
        {
            await InvokeAsync(route.Backend, "resource", namespacedUri, repeatable: true, async (client, c) =>
            {
                await client.UnsubscribeFromResourceAsync(new UnsubscribeRequestParams { Uri = originalUri }, c);
                return new EmptyResult();
            }, ct, RequestMethods.ResourcesUnsubscribe, originalUri);
        }

        return new EmptyResult();
    }

    /// <summary>The level is the calling session's own: the proxy filters what it relays to it (<see cref="SessionHub.SetLogLevelAsync"/>).</summary>
    public async ValueTask<EmptyResult> SetLoggingLevelAsync(RequestContext<SetLevelRequestParams> context, CancellationToken ct)
    {
        var level = context.Params?.Level ?? throw new McpProtocolException("Missing params for logging/setLevel.", McpErrorCode.InvalidParams);
        CheckSize(context, "");
        await sessions.SetLogLevelAsync(context.Server, level, ct);
        return new EmptyResult();
    }

    private static long s_requestIds;

    /// <summary>
    /// tools/call with a request id of our own, so that when the caller cancels we can send the backend
    /// <c>notifications/cancelled</c> ourselves: the SDK 2.4.0 client does not send it over Streamable HTTP.
    /// </summary>
    private static async ValueTask<CallToolResult> CallWithCancellationAsync(McpClient client, CallToolRequestParams request, CancellationToken ct)
    {
        var id = new RequestId("mcp-proxy-" + Interlocked.Increment(ref s_requestIds).ToString(System.Globalization.CultureInfo.InvariantCulture));
        await using var onCancel = ct.Register(() => _ = client.SendNotificationAsync(
            NotificationMethods.CancelledNotification,
            new CancelledNotificationParams { RequestId = id, Reason = "cancelled by the proxy's caller" },
            cancellationToken: CancellationToken.None));
        var response = await client.SendRequestAsync(
            new JsonRpcRequest
            {
                Id = id,
                Method = RequestMethods.ToolsCall,
                Params = System.Text.Json.JsonSerializer.SerializeToNode(request, McpJsonUtilities.DefaultOptions),
            },
            ct);
        return System.Text.Json.JsonSerializer.Deserialize<CallToolResult>(response.Result, McpJsonUtilities.DefaultOptions)
            ?? throw new McpProtocolException("Backend returned an empty tools/call result.", McpErrorCode.InternalError);
    }

    private CallerAccess Access(ClaimsPrincipal? user) =>
        access.For(user) ?? throw new McpProtocolException("The caller maps to no role.", McpErrorCode.InvalidRequest); // the endpoint policy refuses these first

    private static McpProtocolException Forbidden(string kind, string name, ClaimsPrincipal? user) =>
        new($"The {kind} '{name}' is not allowed for this caller ({CallerIdentity.Of(user)}).", McpErrorCode.InvalidParams);

    /// <summary><c>[security] max_argument_size</c> over the whole of the request's params (<see cref="RequestSizeLimit"/>).</summary>
    private void CheckSize<TParams>(RequestContext<TParams> context, string item) =>
        RequestSizeLimit.Check(context.JsonRpcRequest, item, config.Security.MaxArgumentSize);

    /// <summary>
    /// The error for a name the catalog does not have: when it names a backend that is down (restarting, reconnecting),
    /// say so — the item is gone only until the backend is back — otherwise it is an unknown item (-32602).
    /// </summary>
    private McpProtocolException Unknown(string kind, string name)
    {
        if ((catalog.TryOwnerOfName(name, out var route) || catalog.TrySplit(name, out route, out _)) && route.Backend.State != BackendState.Ready)
        {
            return new McpProtocolException(
                $"{route.Backend.UnavailableMessage} Its {kind} '{name}' cannot be called until it is back.", McpErrorCode.InternalError);
        }

        return new McpProtocolException($"Unknown {kind}: '{name}'", McpErrorCode.InvalidParams);
    }

    /// <summary>
    /// A client's resource URI (or template), resolved once for every policy and the backend: split into the backend
    /// and its original URI, which is normalized (<see cref="ResourceUri"/>; refused when it cannot be); then RBAC decides
    /// on the namespaced normalized URI and the backend's <c>expose_resources</c>/<c>hide_resources</c> on the normalized
    /// original, which is exactly what the backend receives.
    /// </summary>
    private ResolvedResource ResolveResource(ClaimsPrincipal? user, string uri)
    {
        var caller = Access(user);
        if (!catalog.TrySplit(uri, out var route, out var original))
        {
            if (!caller.CanUseResource(uri))
            {
                throw Forbidden("resource", uri, user);
            }

            throw new McpProtocolException(
                $"Unknown resource: '{uri}' (resource URIs are namespaced as '{{backend}}{catalog.Separator}{{uri}}')",
                McpErrorCode.InvalidParams);
        }

        if (!ResourceUri.TryNormalize(original, out var normalized, out var reason))
        {
            throw new McpProtocolException(
                $"The resource URI '{(uri.Length <= 256 ? uri : string.Concat(uri.AsSpan(0, 256), "…"))}' cannot be normalized: {reason}; nothing was sent to the backend.",
                McpErrorCode.InvalidParams);
        }

        var namespaced = catalog.Namespace(route.Backend.Name, normalized);
        if (!caller.CanUseResource(namespaced))
        {
            throw Forbidden("resource", namespaced, user);
        }

        if (!route.Resources.IsAllowed(normalized))
        {
            throw new McpProtocolException($"Unknown resource: '{namespaced}'", McpErrorCode.InvalidParams);
        }

        return new ResolvedResource(route, normalized, namespaced);
    }

    /// <summary>A resolved resource URI: the route, the normalized URI the backend receives and its namespaced form.</summary>
    private readonly record struct ResolvedResource(BackendRoute Route, string OriginalUri, string NamespacedUri);

    private static string DescribeReference(Reference reference) => reference switch
    {
        PromptReference p => p.Name,
        ResourceTemplateReference r => r.Uri ?? "",
        _ => "",
    };

    private static readonly TimeSpan ProgressDrainLimit = TimeSpan.FromSeconds(2);

    /// <summary>What a proxied call is, for caching, coalescing, metrics, tracing and audit.</summary>
    private readonly record struct ProxyCall(
        McpServer Session,
        string Method, BackendConnection Backend, string Kind, string Item, string OriginalItem, ClaimsPrincipal? User,
        IDictionary<string, JsonElement>? Arguments, bool Repeatable, TimeSpan? CacheTtl, SessionHub.CallScope Scope = default);

    /// <summary>
    /// One proxied call with everything around it: a span, the request metrics and the audit event; the response cache
    /// (successful results only, per caller) and request coalescing (identical concurrent calls that are safe to
    /// repeat share one backend call); then <see cref="InvokeAsync"/>.
    /// </summary>
    private async Task<T> ProxyAsync<T>(ProxyCall call, Func<McpClient, CancellationToken, ValueTask<T>> send, Func<T, bool> succeeded, CancellationToken ct)
        where T : class
    {
        var started = Stopwatch.GetTimestamp();
        using var activity = telemetry.StartCall(call.Method, call.Backend.Name, call.Item, call.Session);
        var outcome = "ok";
        Exception? failure = null;
        try
        {
            // forward_auth: the caller's token rides with the call itself (the cache and the coalescer may run it on
            // another flow).
            var forwardedToken = call.Backend.Config.ForwardAuth ? BearerToken.Of(call.User) : null;
            Func<CancellationToken, ValueTask<T>> invoke = async c =>
            {
                using var forwarded = ForwardAuthHandler.Use(forwardedToken);
                using var caller = call.Backend.ClientRequests.Track(call.Session);
                return await InvokeAsync(call.Backend, call.Kind, call.Item, call.Repeatable, send, c, call.Method, call.OriginalItem);
            };
            var coalesce = config.Performance.CoalesceRequests && call.Repeatable;
            string? key = coalesce || call.CacheTtl is not null
                ? ResponseCache.Key(call.Backend.Name, call.Method, call.OriginalItem, ArgumentsNode(call.Arguments), CallerIdentity.Of(call.User))
                : null;

            if (coalesce)
            {
                var direct = invoke;
                invoke = c => new ValueTask<T>(coalescer.RunAsync(key!, cc => direct(cc).AsTask(), c));
            }

            var result = call.CacheTtl is { } ttl
                ? await cache.GetOrCallAsync(call.Backend.Name, key!, ttl, call.Backend.Config.Cache!.MaxEntries, invoke, succeeded, ct)
                : await invoke(ct);
            if (!succeeded(result))
            {
                outcome = "tool_error";
            }

            // Progress and log lines the backend sent before its response reach the caller before the result does.
            await call.Scope.DrainAsync(ProgressDrainLimit);
            return result;
        }
        catch (OperationCanceledException ex) when (ct.IsCancellationRequested)
        {
            outcome = "cancelled";
            failure = ex;
            if (inFlight.IsStopping)
            {
                // The host tore the client's request down while the proxy stops: say so rather than "cancelled".
                LogCallFailed(call.Method, call.Item, call.Backend.Name, $"The proxy is shutting down: the call to backend '{call.Backend.Name}' ended with its client's request.");
            }

            throw;
        }
        catch (ProxyRefusedException ex)
        {
            outcome = "rejected";
            failure = ex;
            LogCallFailed(call.Method, call.Item, call.Backend.Name, ex.Message);
            throw;
        }
        catch (McpProtocolException ex)
        {
            // An expected failure (backend unavailable or cut, a timeout, the backend's own error): one warning line;
            // the exception, with its stack trace, at debug.
            outcome = "error";
            failure = ex;
            LogCallFailed(call.Method, call.Item, call.Backend.Name, WarningText(ex));
            LogCallFailedDetail(ex, call.Method, call.Item);
            throw;
        }
        catch (Exception ex)
        {
            outcome = "error";
            failure = ex;
            throw;
        }
        finally
        {
            telemetry.EndCall(activity, call.Method, call.Backend.Name, call.Item, outcome, Stopwatch.GetElapsedTime(started), call.User, call.Arguments, failure);
        }
    }

    /// <summary>
    /// The failure as the warning line gives it: the proxy's own message (unavailable, timed out, cut, refused), but for
    /// the backend's own JSON-RPC error only its code — its words may echo the caller's arguments (they go to debug).
    /// </summary>
    private static string WarningText(McpProtocolException ex) =>
        ex.InnerException is McpProtocolException backendError and not BackendUnavailableException
            ? $"the backend answered JSON-RPC error {(int)backendError.ErrorCode}"
            : ex.Message;

    internal static JsonObject? ArgumentsNode(IDictionary<string, JsonElement>? arguments) =>
        arguments is null ? null : JsonSerializer.SerializeToNode(arguments, McpJsonUtilities.DefaultOptions) as JsonObject;

    /// <summary>
    /// Calls a backend through its resilience pipeline (<see cref="BackendResilience"/>): each attempt takes the
    /// backend's live client (a dead backend fails fast, naming it), and a lost HTTP session makes the backend
    /// re-initialize. Counted for the shutdown drain; refused once shutdown has begun.
    /// </summary>
    private async Task<T> InvokeAsync<T>(
        BackendConnection backend, string kind, string item, bool repeatable, Func<McpClient, CancellationToken, ValueTask<T>> call, CancellationToken ct,
        string method, string originalItem)
        where T : class
    {
        using var scope = inFlight.Enter(backend.Name);
        using var onBackend = backend.BeginCall();
        using var cut = CancellationTokenSource.CreateLinkedTokenSource(ct, backend.CutToken);
        try
        {
            return await backend.Resilience.ExecuteAsync(
                async c =>
                {
                    var client = backend.GetClientOrThrow();
                    var started = Stopwatch.GetTimestamp();
                    string? errorType = null;
                    try
                    {
                        var result = await call(client, c);
                        if (result is CallToolResult { IsError: true })
                        {
                            errorType = "tool_error";
                        }

                        return result;
                    }
                    catch (HttpRequestException ex) when (ex.StatusCode == System.Net.HttpStatusCode.NotFound)
                    {
                        errorType = ProxyTelemetry.ErrorType("error", ex);
                        backend.OnSessionLost(client, ex);
                        throw;
                    }
                    catch (McpProtocolException ex) when (ResultSizeLimit.IsStandIn(ex))
                    {
                        // A stdio backend's oversized response, replaced while it was read: the caller gets the plain message.
                        errorType = typeof(ResultTooLargeException).FullName;
                        throw new ResultTooLargeException(backend.Name, config.Security.MaxResultSize);
                    }
                    catch (Exception ex) when (ex is not McpProtocolException && !c.IsCancellationRequested)
                    {
                        // The connection went away under the call (the child exited, the connection closed): say so.
                        errorType = ProxyTelemetry.ErrorType("error", ex);
                        if (await backend.DescribeLossAsync(client) is { } lost)
                        {
                            throw new BackendCallCutException(lost, ex);
                        }

                        throw;
                    }
                    catch (Exception ex)
                    {
                        errorType = ProxyTelemetry.ErrorType("error", ex);
                        throw;
                    }
                    finally
                    {
                        backendMetrics.RecordBackendRequest(backend, client, method, originalItem, Stopwatch.GetElapsedTime(started), errorType);
                    }
                },
                repeatable,
                kind,
                item,
                cut.Token);
        }
        catch (Exception ex) when (backend.CutToken.IsCancellationRequested && backend.CutReason is { } reason && ex is not BackendCallCutException { IsCut: true })
        {
            // Cut on purpose (a reload past its drain, the shutdown timeout): the caller hears which, even when its
            // own request is being torn down at the same moment (the shutdown).
            throw new BackendCallCutException(reason, ex, isCut: true);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Method} '{Item}' on backend '{Backend}' failed: {Error}")]
    private partial void LogCallFailed(string method, string item, string backend, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Method} '{Item}' failure detail")]
    private partial void LogCallFailedDetail(Exception exception, string method, string item);
}
