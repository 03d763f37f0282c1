using System.Security.Claims;
using System.Text.Json;
using McpProxy.Backends;
using McpProxy.Caching;
using McpProxy.Calls;
using McpProxy.Configuration;
using McpProxy.Eras;
using McpProxy.Observability;
using McpProxy.Routing;
using McpProxy.Security;
using McpProxy.Sessions;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace McpProxy.Pipeline;

/// <summary>
/// The routing step: turns a client's request into a <see cref="CallContext"/>, or refuses it before anything reaches a
/// backend. In order: <c>[security] max_argument_size</c> (<see cref="RequestSizeLimit"/>); the caller's role access,
/// computed once, on the canonical name (as config spells it); the owning backend, or <c>-32602</c> naming an unknown
/// or hidden item (or saying its backend is down); the original name or URI, injected arguments, forwarded <c>_meta</c>
/// and progress token (<see cref="SessionHub.BeginCall"/>), safe-to-repeat and cache TTL (the routing rules).
/// A modern <c>tools/call</c>'s <c>Mcp-Param-*</c> headers are checked against the tool's schema (<see cref="McpParamHeaders"/>).
/// The returned scope ends the call's progress relay: dispose it when the call ends.
/// </summary>
internal sealed class CallRouter(ProxyCatalog catalog, SessionHub sessions, ProxyConfig config, AccessPolicy access, IHttpContextAccessor http)
{
    public SessionHub.CallScope Tool(RequestContext<CallToolRequestParams> context, out CallContext call)
    {
        var request = context.Params ?? throw new McpProtocolException("Missing params for tools/call.", McpErrorCode.InvalidParams);
        CheckSize(context, request.Name);
        var routed = RouteTool(request.Name, Access(context.User), context.User);

        // A modern call's Mcp-Param-* headers against the tool's x-mcp-header arguments, as the client sent them (before injection).
        if (ModernEra.IsModern(context.Server) && http.HttpContext is { } httpContext)
        {
            McpParamHeaders.Validate(request.Name, routed.Tool.InputSchema, request.Arguments, httpContext.Request.Headers);
        }

        var scope = sessions.BeginCall(context.Server, request, routed.Backend, out var meta, context.User, context.JsonRpcRequest);
        var forwarded = new CallToolRequestParams
        {
            Name = routed.OriginalName,
            Arguments = routed.Route.Injector.Apply(routed.OriginalName, request.Arguments),
            Meta = meta,
        };
        call = Call(context, RequestMethods.ToolsCall, routed.Backend, "tool", request.Name, routed.OriginalName, forwarded, scope, forwarded.Arguments, routed.Repeatable, routed.CacheTtl);
        return scope;
    }

    public SessionHub.CallScope Prompt(RequestContext<GetPromptRequestParams> context, out CallContext call)
    {
        var request = context.Params ?? throw new McpProtocolException("Missing params for prompts/get.", McpErrorCode.InvalidParams);
        CheckSize(context, request.Name);
        var routed = RoutePrompt(request.Name, Access(context.User), context.User);
        var scope = sessions.BeginCall(context.Server, request, routed.Backend, out var meta, context.User, context.JsonRpcRequest);
        var forwarded = new GetPromptRequestParams { Name = routed.OriginalName, Arguments = request.Arguments, Meta = meta };
        call = Call(context, RequestMethods.PromptsGet, routed.Backend, "prompt", request.Name, routed.OriginalName, forwarded, scope);
        return scope;
    }

    public SessionHub.CallScope Read(RequestContext<ReadResourceRequestParams> context, out CallContext call)
    {
        var request = context.Params ?? throw new McpProtocolException("Missing params for resources/read.", McpErrorCode.InvalidParams);
        CheckSize(context, request.Uri);
        var (route, originalUri, namespacedUri) = ResolveResource(Access(context.User), context.User, request.Uri);
        var scope = sessions.BeginCall(context.Server, request, route.Backend, out var meta, context.User, context.JsonRpcRequest);
        var forwarded = new ReadResourceRequestParams { Uri = originalUri, Meta = meta };
        call = Call(context, RequestMethods.ResourcesRead, route.Backend, "resource", namespacedUri, originalUri, forwarded, scope, cacheTtl: route.ResourceCacheTtl);
        return scope;
    }

    /// <summary>
    /// The fast path's routing step (README "Fast path"): the same decisions as <see cref="Tool"/>, <see cref="Prompt"/>
    /// and <see cref="Read"/> — size, role access on the canonical name, the owning backend, hidden and unknown items —
    /// made on the name or URI read from the request's bytes. Null when the call is to take the typed path: anything
    /// refused (the typed path gives the refusal, word for word), a backend without a fast way (stdio, legacy era, not
    /// ready, <c>fast_path = false</c>), a tool with injected or header-carried arguments.
    /// </summary>
    /// <param name="paramsLength">The length of the request's <c>params</c> as sent: far enough within <c>max_argument_size</c>
    /// that the exact measure cannot exceed it (an escaped character measures at most six bytes); else the typed path measures.</param>
    public CallContext? Fast(string method, string item, JsonElement parameters, int paramsLength, ClaimsPrincipal? user, SessionCall? session = null)
    {
        if ((long)paramsLength * 6 > config.Security.MaxArgumentSize || access.For(user) is not { } caller)
        {
            return null;
        }

        try
        {
            switch (method)
            {
                case RequestMethods.ToolsCall:
                    var tool = RouteTool(item, caller, user);
                    return !tool.SendsArgumentsAsIs || tool.Backend.FastWire is null ? null : Fast(method, tool.Backend, "tool", item, tool.OriginalName, parameters, user, tool.Repeatable, tool.CacheTtl, session);

                case RequestMethods.PromptsGet:
                    var prompt = RoutePrompt(item, caller, user);
                    return prompt.Backend.FastWire is null ? null : Fast(method, prompt.Backend, "prompt", item, prompt.OriginalName, parameters, user, true, null, session);

                case RequestMethods.ResourcesRead:
                    var (route, originalUri, namespacedUri) = ResolveResource(caller, user, item);
                    return route.Backend.FastWire is null ? null : Fast(method, route.Backend, "resource", namespacedUri, originalUri, parameters, user, true, route.ResourceCacheTtl, session);

                default:
                    return null;
            }
        }
        catch (McpProtocolException)
        {
            return null; // refused: the typed path says why
        }
    }

    private static CallContext Fast(
        string method, BackendConnection backend, string kind, string item, string originalItem, JsonElement parameters, ClaimsPrincipal? user, bool repeatable, TimeSpan? cacheTtl,
        SessionCall? session) =>
        new()
        {
            Method = method,
            Kind = kind,
            Item = item,
            OriginalItem = originalItem,
            BackendName = backend.Name,
            BackendConfig = backend.Config,
            Backend = backend,
            User = user,
            Caller = CallerIdentity.Of(user),
            Repeatable = repeatable,
            CacheTtl = cacheTtl,
            Raw = RawCall.Create(method, parameters, originalItem, session),
            ProtocolVersion = session is null ? ModernEra.Version : session.ProtocolVersion,
            SessionId = session?.SessionId,
        };

    /// <summary>Contents carry the backend's URIs; gives them back namespaced so they round-trip through the proxy.</summary>
    public void NamespaceContents(CallContext call, ReadResourceResult result)
    {
        foreach (var content in result.Contents)
        {
            content.Uri = catalog.Namespace(call.BackendName, content.Uri);
        }
    }

    /// <summary>A completion request; no call (<paramref name="call"/> null) when the backend does not offer completions.</summary>
    public SessionHub.CallScope Complete(RequestContext<CompleteRequestParams> context, out CallContext? call)
    {
        var request = context.Params ?? throw new McpProtocolException("Missing params for completion/complete.", McpErrorCode.InvalidParams);
        CheckSize(context, DescribeReference(request.Ref));
        BackendConnection backend;
        Reference reference;
        string item;
        switch (request.Ref)
        {
            case PromptReference prompt:
                var routedPrompt = RoutePrompt(prompt.Name, Access(context.User), context.User);
                backend = routedPrompt.Backend;
                reference = new PromptReference { Name = routedPrompt.OriginalName, Title = prompt.Title };
                item = prompt.Name;
                break;

            case ResourceTemplateReference template:
                var (route, originalUri, namespacedUri) = ResolveResource(Access(context.User), context.User, template.Uri ?? "");
                backend = route.Backend;
                reference = new ResourceTemplateReference { Uri = originalUri };
                item = namespacedUri;
                break;

            default:
                throw new McpProtocolException("Unsupported completion reference.", McpErrorCode.InvalidParams);
        }

        if (backend.GetClientOrThrow().ServerCapabilities.Completions is null)
        {
            call = null;
            return default;
        }

        var scope = sessions.BeginCall(context.Server, request, backend, out var meta, context.User, context.JsonRpcRequest);
        var forwarded = new CompleteRequestParams { Ref = reference, Argument = request.Argument, Context = request.Context, Meta = meta };
        call = Call(context, RequestMethods.CompletionComplete, backend, "completion", item, item, forwarded, scope);
        return scope;
    }

    /// <summary>A subscription: the backend must support them. The namespaced URI is what the caller's session records.</summary>
    public CallContext Subscribe(RequestContext<SubscribeRequestParams> context)
    {
        var request = context.Params ?? throw new McpProtocolException("Missing params for resources/subscribe.", McpErrorCode.InvalidParams);
        CheckSize(context, request.Uri);
        var (route, originalUri, namespacedUri) = ResolveResource(Access(context.User), context.User, request.Uri);
        if (route.Backend.GetClientOrThrow().ServerCapabilities.Resources?.Subscribe != true)
        {
            throw new McpProtocolException($"Backend '{route.Backend.Name}' does not support resource subscriptions.", McpErrorCode.InvalidParams);
        }

        return Call(context, RequestMethods.ResourcesSubscribe, route.Backend, "resource", namespacedUri, originalUri, new SubscribeRequestParams { Uri = originalUri }, default);
    }

    public CallContext Unsubscribe(RequestContext<UnsubscribeRequestParams> context)
    {
        var request = context.Params ?? throw new McpProtocolException("Missing params for resources/unsubscribe.", McpErrorCode.InvalidParams);
        CheckSize(context, request.Uri);
        var (route, originalUri, namespacedUri) = ResolveResource(Access(context.User), context.User, request.Uri);
        return Call(context, RequestMethods.ResourcesUnsubscribe, route.Backend, "resource", namespacedUri, originalUri, new UnsubscribeRequestParams { Uri = originalUri }, default);
    }

    /// <summary>
    /// A backend subscription made on behalf of listen streams (<see cref="BackendSubscriptions"/>): the URI was granted
    /// (checked, normalized, namespaced) when the stream opened. Null when its backend is not ready or cannot subscribe.
    /// </summary>
    public CallContext? BackendSubscription(McpServer session, string namespacedUri, bool subscribe)
    {
        if (!catalog.TrySplit(namespacedUri, out var route, out var originalUri) || route.Backend.State != BackendState.Ready
            || (subscribe && route.Backend.GetClientOrThrow().ServerCapabilities.Resources?.Subscribe != true))
        {
            return null;
        }

        return new()
        {
            Session = session,
            Method = subscribe ? RequestMethods.ResourcesSubscribe : RequestMethods.ResourcesUnsubscribe,
            Kind = "resource",
            Item = namespacedUri,
            OriginalItem = originalUri,
            BackendName = route.Backend.Name,
            BackendConfig = route.Backend.Config,
            Backend = route.Backend,
            Caller = CallerIdentity.Of(null),
            Repeatable = true,
            Forwarded = subscribe ? new SubscribeRequestParams { Uri = originalUri } : new UnsubscribeRequestParams { Uri = originalUri },
        };
    }

    /// <summary>The caller's access to the lists, computed once per request.</summary>
    public CallerAccess Access(ClaimsPrincipal? user) =>
        access.For(user) ?? throw new McpProtocolException("The caller maps to no role.", McpErrorCode.InvalidRequest); // the endpoint policy refuses these first

    /// <summary><c>[security] max_argument_size</c> over the whole of the request's params (<see cref="RequestSizeLimit"/>).</summary>
    public void CheckSize<TParams>(RequestContext<TParams> context, string item) =>
        RequestSizeLimit.Check(context.JsonRpcRequest, item, config.Security.MaxArgumentSize);

    private static CallContext Call<TParams>(
        RequestContext<TParams> context, string method, BackendConnection backend, string kind, string item, string originalItem,
        RequestParams forwarded, SessionHub.CallScope scope, IDictionary<string, System.Text.Json.JsonElement>? arguments = null,
        bool repeatable = true, TimeSpan? cacheTtl = null)
    {
        // A Multi Round-Trip retry (inputResponses, requestState) is never cached, coalesced or repeated (spec: caching):
        // decided here, once, for every filter (the cache and the coalescer read CacheTtl and Repeatable).
        var retry = context.Params is RequestParams request && CacheHints.IsRetry(request);
        return new()
        {
            Session = context.Server,
            Method = method,
            Kind = kind,
            Item = item,
            OriginalItem = originalItem,
            BackendName = backend.Name,
            BackendConfig = backend.Config,
            Backend = backend,
            User = context.User,
            Caller = CallerIdentity.Of(context.User),
            Arguments = arguments,
            Repeatable = repeatable && !retry,
            CacheTtl = retry ? null : cacheTtl,
            Forwarded = forwarded,
            ClientSession = scope.Session,
            EnqueuedBefore = scope.EnqueuedBefore,
        };
    }

    private RoutedTool RouteTool(string name, CallerAccess caller, ClaimsPrincipal? user)
    {
        var listed = catalog.Current.ToolsByName.TryGetValue(name, out var routed);
        if (!caller.CanUseTool(listed ? routed!.CanonicalName : name))
        {
            throw Forbidden("tool", name, user);
        }

        if (!listed && !catalog.TryPassthroughTool(name, out routed))
        {
            throw Unknown("tool", name);
        }

        return routed!;
    }

    private RoutedPrompt RoutePrompt(string name, CallerAccess caller, ClaimsPrincipal? user)
    {
        var listed = catalog.Current.PromptsByName.TryGetValue(name, out var routed);
        if (!caller.CanUsePrompt(listed ? routed!.CanonicalName : name))
        {
            throw Forbidden("prompt", name, user);
        }

        if (!listed && !catalog.TryPassthroughPrompt(name, out routed))
        {
            throw Unknown("prompt", name);
        }

        return routed!;
    }

    private static McpProtocolException Forbidden(string kind, string name, ClaimsPrincipal? user) =>
        new($"The {kind} '{name}' is not allowed for this caller ({CallerIdentity.Of(user)}).", McpErrorCode.InvalidParams);

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
    private ResolvedResource ResolveResource(CallerAccess caller, ClaimsPrincipal? user, string uri)
    {
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
}
