using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace McpProxy.Backends.Sample;

/// <summary>
/// <c>subscriptions/listen</c> for 2026-07-28 clients (the SDK's own handler grants nothing on a stateless request):
/// acknowledges what was asked for (tool list changes, and the resource subscriptions, recorded in
/// <see cref="SampleState.ReceivedUris"/> as <c>"subscriptions/listen {uri}"</c>), then sends
/// <c>notifications/tools/list_changed</c>, tagged with the subscription id, whenever the shared tool collection changes,
/// until the client closes the stream.
/// </summary>
internal static class SampleListen
{
    private const string SubscriptionIdKey = "io.modelcontextprotocol/subscriptionId";

    public static async ValueTask<EmptyResult> HandleAsync(RequestContext<SubscriptionsListenRequestParams> context, CancellationToken cancellationToken)
    {
        var state = context.Services!.GetRequiredService<SampleState>();
        var id = JsonSerializer.SerializeToNode(context.JsonRpcRequest.Id, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(RequestId)));
        var asked = context.Params?.Notifications ?? new SubscriptionsListenNotifications();
        var granted = new SubscriptionsListenNotifications
        {
            ToolsListChanged = asked.ToolsListChanged,
            ResourceSubscriptions = asked.ResourceSubscriptions,
        };
        foreach (var uri in granted.ResourceSubscriptions ?? [])
        {
            state.ReceivedUris.Enqueue(RequestMethods.SubscriptionsListen + " " + uri);
        }

        var changes = System.Threading.Channels.Channel.CreateUnbounded<bool>();
        void OnChanged(object? sender, EventArgs e) => changes.Writer.TryWrite(true);
        if (granted.ToolsListChanged == true)
        {
            state.Tools.Changed += OnChanged;
        }

        try
        {
            await SendAsync(context, NotificationMethods.SubscriptionsAcknowledgedNotification, new JsonObject
            {
                ["notifications"] = JsonSerializer.SerializeToNode(granted, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(SubscriptionsListenNotifications))),
            }, id, cancellationToken);
            await foreach (var _ in changes.Reader.ReadAllAsync(cancellationToken))
            {
                await SendAsync(context, NotificationMethods.ToolListChangedNotification, [], id, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // the client closed the stream
        }
        finally
        {
            state.Tools.Changed -= OnChanged;
        }

        return new EmptyResult { Meta = new JsonObject { [SubscriptionIdKey] = id?.DeepClone() } };
    }

    private static ValueTask SendAsync(RequestContext<SubscriptionsListenRequestParams> context, string method, JsonObject parameters, JsonNode? id, CancellationToken cancellationToken)
    {
        parameters["_meta"] = new JsonObject { [SubscriptionIdKey] = id?.DeepClone() };
        return new(context.Server.SendMessageAsync(new JsonRpcNotification { Method = method, Params = parameters }, cancellationToken));
    }
}
