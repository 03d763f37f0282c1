using System.Threading.Channels;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpProxy.Backends;

/// <summary>
/// Wraps a backend's client transport to see every message in the order it was read, before the MCP client dispatches
/// it: the client handles messages concurrently, so a progress notification the backend sent before its response could
/// otherwise be relayed after it. Nothing else changes: sends, session id and disposal go straight to the inner transport.
/// </summary>
internal sealed class ObservedClientTransport(IClientTransport inner, Action<JsonRpcMessage> onRead) : IClientTransport
{
    public string Name => inner.Name;

    public async Task<ITransport> ConnectAsync(CancellationToken cancellationToken = default) =>
        new ObservedTransport(await inner.ConnectAsync(cancellationToken).ConfigureAwait(false), onRead);

    private sealed class ObservedTransport(ITransport inner, Action<JsonRpcMessage> onRead) : ITransport
    {
        public string? SessionId => inner.SessionId;

        public ChannelReader<JsonRpcMessage> MessageReader { get; } = new ObservedReader(inner.MessageReader, onRead);

        public Task SendMessageAsync(JsonRpcMessage message, CancellationToken cancellationToken = default) =>
            inner.SendMessageAsync(message, cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    private sealed class ObservedReader(ChannelReader<JsonRpcMessage> inner, Action<JsonRpcMessage> onRead) : ChannelReader<JsonRpcMessage>
    {
        public override Task Completion => inner.Completion;

        public override bool TryRead(out JsonRpcMessage item)
        {
            if (inner.TryRead(out item!))
            {
                onRead(item);
                return true;
            }

            return false;
        }

        public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) => inner.WaitToReadAsync(cancellationToken);
    }
}
