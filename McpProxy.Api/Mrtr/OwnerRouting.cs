using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using McpProxy.Caching;
using Microsoft.Extensions.Hosting;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using StackExchange.Redis;

namespace McpProxy.Mrtr;

/// <summary>
/// Routes the retry of a parked exchange to the replica that owns it, over Redis pub/sub, when the proxy has a Redis
/// connection (<c>ConnectionStrings:cache</c>): each replica listens on <c>mcp-proxy:mrtr:{replica}</c>; a replica that
/// gets a retry for another publishes it there (the params and a reply channel), the owner resumes the exchange and
/// publishes the outcome — the final result, the next <c>input_required</c>, or the error — on
/// <c>mcp-proxy:mrtr:reply:{id}</c>. No subscriber on the owner's channel means the owner is gone: the call is lost
/// (<c>-32602</c>, "no longer available"). Redis must be private: the messages carry the caller's answers.
/// </summary>
internal sealed partial class OwnerRouting(BridgeRegistry registry, RequestStateProtector states, IServiceProvider services, ILogger<OwnerRouting> logger)
    : IHostedService
{
    private const string Prefix = "mcp-proxy:mrtr:";

    private RedisConnection? Redis => services.GetService<RedisConnection>();

    /// <summary>Whether retries can be routed (a Redis connection is configured).</summary>
    public bool Enabled => Redis is not null;

    private RedisSubscription? _subscription;

    /// <summary>This replica listens on its channel now (tests wait on it).</summary>
    public bool Subscribed => _subscription?.IsLive == true;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (Redis is { } redis)
        {
            _ = SubscribeAsync(redis); // in the background: Redis may be connecting or down, the proxy starts anyway
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private async Task SubscribeAsync(RedisConnection redis)
    {
        try
        {
            var subscriber = (await redis.GetAsync().ConfigureAwait(false)).GetSubscriber();
            _subscription = await redis.SubscribeAsync(
                Channel(registry.ReplicaId), (channel, message) => { _ = AnswerAsync(subscriber, message); }, ex => LogSubscribeFailed(logger, ex.Message)).ConfigureAwait(false);
        }
        catch (InvalidOperationException ex)
        {
            LogSubscribeFailed(logger, ex.Message);
        }
    }

    /// <summary>A retry for another replica: published to its owner; the owner's outcome, as if the call ran here.</summary>
    public async Task<object> RouteAsync(MrtrState state, RequestParams request, CancellationToken cancellationToken)
    {
        var connection = await Redis!.GetAsync().ConfigureAwait(false);
        var subscriber = connection.GetSubscriber();
        var reply = RedisChannel.Literal(Prefix + "reply:" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)));
        var answered = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await subscriber.SubscribeAsync(reply, (_, value) => answered.TrySetResult(value.ToString())).ConfigureAwait(false);
        try
        {
            var message = new JsonObject
            {
                ["reply"] = reply.ToString(),
                ["exchange"] = state.Exchange,
                ["method"] = state.Method,
                ["params"] = JsonSerializer.SerializeToNode(request, McpJsonUtilities.DefaultOptions.GetTypeInfo(request.GetType())),
            };
            if (await subscriber.PublishAsync(Channel(state.Replica ?? ""), message.ToJsonString()).ConfigureAwait(false) == 0)
            {
                throw RequestStateProtector.Refused("the call it belongs to is no longer available (the proxy replica that ran it is gone)");
            }

            var outcome = JsonNode.Parse(await answered.Task.WaitAsync(states.Ttl, cancellationToken).ConfigureAwait(false))!.AsObject();
            switch (outcome["kind"]?.GetValue<string>())
            {
                case "result":
                    return outcome["result"].Deserialize(McpJsonUtilities.DefaultOptions.GetTypeInfo(ResultType(state.Method)))
                        ?? throw new McpProtocolException("The owner replica returned an empty result.", McpErrorCode.InternalError);
                case "input_required":
                    throw new InputRequiredException((InputRequiredResult)outcome["result"].Deserialize(McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(InputRequiredResult)))!);
                default:
                    throw new McpProtocolException(outcome["message"]?.GetValue<string>() ?? "The owner replica failed.", (McpErrorCode)(outcome["code"]?.GetValue<int>() ?? -32603));
            }
        }
        catch (TimeoutException)
        {
            throw new McpProtocolException("The proxy replica that owns this call did not answer in time.", McpErrorCode.InternalError);
        }
        finally
        {
            await subscriber.UnsubscribeAsync(reply).ConfigureAwait(false);
        }
    }

    /// <summary>On the owner: resumes the exchange a retry elsewhere named and publishes the outcome.</summary>
    private async Task AnswerAsync(ISubscriber subscriber, RedisValue value)
    {
        JsonObject outcome;
        string? reply = null;
        try
        {
            var message = JsonNode.Parse(value.ToString())!.AsObject();
            reply = message["reply"]!.GetValue<string>();
            var method = message["method"]!.GetValue<string>();
            var request = (RequestParams)message["params"].Deserialize(McpJsonUtilities.DefaultOptions.GetTypeInfo(ParamsType(method)))!;
            var call = registry.TryTake(message["exchange"]?.GetValue<string>() ?? "")
                ?? throw RequestStateProtector.Refused("the call it belongs to is no longer available (it ended, expired, or was already answered)");
            var result = await call.ResumeAsync(request.InputResponses, CancellationToken.None).ConfigureAwait(false);
            outcome = new JsonObject { ["kind"] = "result", ["result"] = JsonSerializer.SerializeToNode(result, McpJsonUtilities.DefaultOptions.GetTypeInfo(result.GetType())) };
        }
        catch (InputRequiredException ex)
        {
            outcome = new JsonObject { ["kind"] = "input_required", ["result"] = JsonSerializer.SerializeToNode(ex.Result, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(InputRequiredResult))) };
        }
        catch (McpProtocolException ex)
        {
            outcome = new JsonObject { ["kind"] = "error", ["code"] = (int)ex.ErrorCode, ["message"] = ex.Message };
        }
        catch (Exception ex) when (ex is JsonException or McpException or InvalidOperationException or OperationCanceledException or NullReferenceException)
        {
            outcome = new JsonObject { ["kind"] = "error", ["code"] = (int)McpErrorCode.InternalError, ["message"] = "The proxy replica that owns this call failed to resume it." };
            LogResumeFailed(logger, ex.Message);
        }

        if (reply is not null)
        {
            try
            {
                await subscriber.PublishAsync(RedisChannel.Literal(reply), outcome.ToJsonString()).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException)
            {
                LogResumeFailed(logger, ex.Message);
            }
        }
    }

    private static RedisChannel Channel(string replica) => RedisChannel.Literal(Prefix + replica);

    private static Type ResultType(string method) => method switch
    {
        RequestMethods.ToolsCall => typeof(CallToolResult),
        RequestMethods.PromptsGet => typeof(GetPromptResult),
        _ => typeof(ReadResourceResult),
    };

    private static Type ParamsType(string method) => method switch
    {
        RequestMethods.ToolsCall => typeof(CallToolRequestParams),
        RequestMethods.PromptsGet => typeof(GetPromptRequestParams),
        _ => typeof(ReadResourceRequestParams),
    };

    [LoggerMessage(Level = LogLevel.Warning, Message = "MRTR owner routing: cannot subscribe on Redis yet ({Error}); it subscribes once Redis is reachable, until then retries of calls parked here must come back to this replica")]
    private static partial void LogSubscribeFailed(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MRTR owner routing: resuming a routed retry failed: {Error}")]
    private static partial void LogResumeFailed(ILogger logger, string error);
}
