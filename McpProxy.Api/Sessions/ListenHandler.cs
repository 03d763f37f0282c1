using System.Text.Json;
using System.Text.Json.Nodes;
using McpProxy.Routing;
using McpProxy.Security;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace McpProxy.Sessions;

/// <summary>
/// <c>subscriptions/listen</c> (2026-07-28): replaces the SDK's built-in handler, which on a stateless request
/// acknowledges nothing and returns at once. Grants what the client asked for and may see (the list types; the resource
/// URIs that resolve to an exposed resource its roles allow — others are left out of the acknowledgement, not refused),
/// sends <c>notifications/subscriptions/acknowledged</c> first, then relays this stream's queue (<see cref="ListenHub"/>),
/// every notification tagged with <c>_meta["io.modelcontextprotocol/subscriptionId"]</c> (the request's id). The client
/// closing the stream cancels it; the host stopping ends it gracefully with the spec's final result.
/// </summary>
internal sealed partial class ListenHandler(
    ListenHub hub, ProxyCatalog catalog, AccessPolicy access, IBackendSubscriptions backendSubscriptions, IHostApplicationLifetime lifetime,
    ILogger<ListenHandler> logger)
{
    public async ValueTask<EmptyResult> ListenAsync(RequestContext<SubscriptionsListenRequestParams> context, CancellationToken ct)
    {
        var id = JsonSerializer.SerializeToNode(context.JsonRpcRequest.Id, McpJsonUtilities.DefaultOptions);
        var caller = access.For(context.User) ?? throw new McpProtocolException("The caller maps to no role.", McpErrorCode.InvalidRequest);
        var grant = Grant(caller, context.Params?.Notifications);

        // Registered before the acknowledgement so nothing between the two is lost; the queue is sent only after it.
        using var listener = hub.Register(grant);
        try
        {
            return await StreamAsync(context, listener, grant, id, ct);
        }
        finally
        {
            listener.Dispose(); // before the backends are told: a URI no stream watches any more is unsubscribed
            foreach (var uri in grant.ResourceSubscriptions.Keys)
            {
                await backendSubscriptions.UnwatchAsync(context.Server, uri);
            }
        }
    }

    private async ValueTask<EmptyResult> StreamAsync(
        RequestContext<SubscriptionsListenRequestParams> context, ListenHub.Listener listener, ListenGrant grant, JsonNode? id, CancellationToken ct)
    {
        // The backends send resources/updated only for what they were subscribed to: each granted URI is watched there.
        foreach (var uri in grant.ResourceSubscriptions.Keys)
        {
            await backendSubscriptions.WatchAsync(context.Server, uri, ct);
        }

        await context.Server.SendMessageAsync(
            new JsonRpcNotification
            {
                Method = NotificationMethods.SubscriptionsAcknowledgedNotification,
                Params = new JsonObject { ["notifications"] = Acknowledged(grant), ["_meta"] = Meta(id) },
            },
            ct);
        LogListening(grant.ToolsListChanged, grant.PromptsListChanged, grant.ResourcesListChanged, grant.ResourceSubscriptions.Count);

        using var ending = CancellationTokenSource.CreateLinkedTokenSource(ct, lifetime.ApplicationStopping);
        try
        {
            await foreach (var pending in listener.Reader.ReadAllAsync(ending.Token))
            {
                var parameters = pending.Parameters ?? [];
                parameters["_meta"] = Meta(id);
                await context.Server.SendMessageAsync(new JsonRpcNotification { Method = pending.Method, Params = parameters }, ct);
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // The host is stopping: end the stream with the final result (a client that closed it gets nothing more).
        }

        return new EmptyResult { Meta = Meta(id) };
    }

    /// <summary>Requested ∩ what the caller may see. Unknown, hidden or forbidden URIs are silently not granted.</summary>
    private ListenGrant Grant(CallerAccess caller, SubscriptionsListenNotifications? requested)
    {
        var resources = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var uri in requested?.ResourceSubscriptions ?? [])
        {
            if (uri is not null && catalog.TrySplit(uri, out var route, out var original) && ResourceUri.TryNormalize(original, out var normalized, out _))
            {
                var namespaced = catalog.Namespace(route.Backend.Name, normalized);
                if (caller.CanUseResource(namespaced) && route.Resources.IsAllowed(normalized))
                {
                    resources.TryAdd(namespaced, uri);
                }
            }
        }

        return new ListenGrant(
            caller, requested?.ToolsListChanged == true, requested?.PromptsListChanged == true, requested?.ResourcesListChanged == true, resources);
    }

    private static JsonObject Acknowledged(ListenGrant grant)
    {
        var notifications = new JsonObject();
        if (grant.ToolsListChanged)
        {
            notifications["toolsListChanged"] = true;
        }

        if (grant.PromptsListChanged)
        {
            notifications["promptsListChanged"] = true;
        }

        if (grant.ResourcesListChanged)
        {
            notifications["resourcesListChanged"] = true;
        }

        if (grant.ResourceSubscriptions.Count > 0)
        {
            notifications["resourceSubscriptions"] = new JsonArray([.. grant.ResourceSubscriptions.Values.Select(u => (JsonNode)u)]);
        }

        return notifications;
    }

    private static JsonObject Meta(JsonNode? id) => new() { [MetaKeys.SubscriptionId] = id?.DeepClone() };

    [LoggerMessage(Level = LogLevel.Debug, Message = "subscriptions/listen opened: tools {Tools}, prompts {Prompts}, resources {Resources}, {Uris} resource subscriptions granted")]
    private partial void LogListening(bool tools, bool prompts, bool resources, int uris);
}
