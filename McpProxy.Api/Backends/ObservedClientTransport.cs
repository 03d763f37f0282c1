using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using McpProxy.Mrtr;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpProxy.Backends;

/// <summary>
/// Wraps a backend's client transport to see every message in the order it was read, before the MCP client dispatches
/// it: the client handles messages concurrently, so a progress notification the backend sent before its response could
/// otherwise be relayed after it. It is also the tap for a modern caller's Multi Round-Trip Request: a request whose
/// <c>_meta</c> names a <see cref="PassThroughSlot"/> is remembered (the key removed), and when its response is an
/// <c>input_required</c> result, that result goes into the slot and the MCP client reads an error
/// (<see cref="PassThroughSlot.CapturedCode"/>) instead, so it does not resolve the input requests itself.
/// Nothing else changes: session id and disposal go straight to the inner transport.
/// </summary>
internal sealed class ObservedClientTransport(IClientTransport inner, Action<JsonRpcMessage> onRead, string backend = "") : IClientTransport
{
    public string Name => inner.Name;

    public async Task<ITransport> ConnectAsync(CancellationToken cancellationToken = default) =>
        new ObservedTransport(await inner.ConnectAsync(cancellationToken).ConfigureAwait(false), onRead, backend);

    private sealed class ObservedTransport : ITransport
    {
        private readonly ITransport _inner;
        private readonly ConcurrentDictionary<RequestId, PassThroughSlot> _slots = new();

        private readonly string _backend;

        public ObservedTransport(ITransport inner, Action<JsonRpcMessage> onRead, string backend)
        {
            _inner = inner;
            _backend = backend;
            MessageReader = new ObservedReader(inner.MessageReader, message =>
            {
                message = Capture(message);
                onRead(message);
                return message;
            });
        }

        public string? SessionId => _inner.SessionId;

        public ChannelReader<JsonRpcMessage> MessageReader { get; }

        public Task SendMessageAsync(JsonRpcMessage message, CancellationToken cancellationToken = default)
        {
            if (message is JsonRpcRequest
                {
                    Method: RequestMethods.ToolsCall or RequestMethods.PromptsGet or RequestMethods.ResourcesRead,
                } request && PassThroughSlot.TakeFrom(request.Params, _backend) is { } slot)
            {
                _slots[request.Id] = slot;
            }

            return _inner.SendMessageAsync(message, cancellationToken);
        }

        public ValueTask DisposeAsync() => _inner.DisposeAsync();

        /// <summary>A tapped request's <c>input_required</c> response: into its slot, and an error for the MCP client.</summary>
        private JsonRpcMessage Capture(JsonRpcMessage message)
        {
            switch (message)
            {
                case JsonRpcResponse response when _slots.TryRemove(response.Id, out var slot):
                    if (!PassThroughSlot.IsInputRequired(response.Result))
                    {
                        return message;
                    }

                    slot.Result = (JsonObject)response.Result!;
                    return new JsonRpcError
                    {
                        Id = response.Id,
                        Error = new JsonRpcErrorDetail { Code = PassThroughSlot.CapturedCode, Message = "mcp-proxy: input_required captured for the caller" },
                    };

                case JsonRpcError error:
                    _slots.TryRemove(error.Id, out _);
                    return message;

                default:
                    return message;
            }
        }
    }

    private sealed class ObservedReader(ChannelReader<JsonRpcMessage> inner, Func<JsonRpcMessage, JsonRpcMessage> onRead) : ChannelReader<JsonRpcMessage>
    {
        public override Task Completion => inner.Completion;

        public override bool TryRead(out JsonRpcMessage item)
        {
            if (inner.TryRead(out item!))
            {
                item = onRead(item);
                return true;
            }

            return false;
        }

        public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) => inner.WaitToReadAsync(cancellationToken);
    }
}
