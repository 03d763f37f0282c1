using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpProxy.Security;

/// <summary>
/// <c>[security] max_argument_size</c>, for every request the proxy routes to a backend: the whole of the client's
/// <c>params</c> (tool and prompt arguments, completion argument and context, resource URIs, <c>_meta</c>, names) is
/// measured as the client sent it, key by key, and an oversized request is refused (-32602, naming the method, the item
/// and the key where the limit was crossed) before anything reaches a backend. One check for every method.
/// </summary>
internal static class RequestSizeLimit
{
    private const int MaxItemLength = 64;

    public static void Check(JsonRpcRequest request, string item, long limit)
    {
        if (request.Params is not JsonObject parameters)
        {
            return;
        }

        var counter = new CountingWriter();
        using var writer = new Utf8JsonWriter(counter);
        long size = 2; // {}
        foreach (var (key, value) in parameters)
        {
            counter.Count = 0;
            writer.Reset(counter);
            if (value is null)
            {
                writer.WriteNullValue();
            }
            else
            {
                value.WriteTo(writer);
            }

            writer.Flush();
            size += Encoding.UTF8.GetByteCount(key) + 4 + counter.Count; // "key": value,
            if (size > limit)
            {
                throw new McpProtocolException(
                    $"The params of {request.Method}{Describe(item)} exceed the limit of {limit} bytes ([security] max_argument_size) at '{Shorten(key)}'; nothing was sent to the backend.",
                    McpErrorCode.InvalidParams);
            }
        }
    }

    private static string Describe(string item) => item.Length == 0 ? "" : $" '{Shorten(item)}'";

    /// <summary>An item named in an error: never the whole of an oversized value.</summary>
    private static string Shorten(string text) => text.Length <= MaxItemLength ? text : string.Concat(text.AsSpan(0, MaxItemLength), "…");

    /// <summary>An <see cref="IBufferWriter{T}"/> that only counts: the JSON is measured, never kept.</summary>
    private sealed class CountingWriter : IBufferWriter<byte>
    {
        private byte[] _buffer = new byte[4096];

        public long Count { get; set; }

        public void Advance(int count) => Count += count;

        public Memory<byte> GetMemory(int sizeHint = 0) => Buffer(sizeHint);

        public Span<byte> GetSpan(int sizeHint = 0) => Buffer(sizeHint);

        private byte[] Buffer(int sizeHint)
        {
            if (sizeHint > _buffer.Length)
            {
                _buffer = new byte[sizeHint];
            }

            return _buffer;
        }
    }
}
