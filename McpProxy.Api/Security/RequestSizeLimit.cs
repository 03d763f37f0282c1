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
/// and the key where the limit was crossed) before anything reaches a backend. One check for every method. W3C trace
/// context in <c>_meta</c>, within its own limits, is not counted (see <see cref="MeasureMeta"/>).
/// </summary>
internal static class RequestSizeLimit
{
    private const int MaxItemLength = 64;

    [ThreadStatic]
    private static CountingWriter? t_counter;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    public static void Check(JsonRpcRequest request, string item, long limit)
    {
        if (request.Params is not JsonObject parameters)
        {
            return;
        }

        // The thread's counter and writer, reused: measuring a call allocates nothing (a fresh 4 KiB scratch buffer per
        // call was most of what a typed call allocated).
        var counter = t_counter ??= new CountingWriter();
        var writer = t_writer ??= new Utf8JsonWriter(counter);
        long size = 2; // {}
        foreach (var (key, value) in parameters)
        {
            size += key == "_meta" && value is JsonObject meta
                ? 6 + 4 + MeasureMeta(meta, counter, writer)
                : Encoding.UTF8.GetByteCount(key) + 4 + Measure(value, counter, writer); // "key": value,
            if (size > limit)
            {
                throw new McpProtocolException(
                    $"The params of {request.Method}{Describe(item)} exceed the limit of {limit} bytes ([security] max_argument_size) at '{Shorten(key)}'; nothing was sent to the backend.",
                    McpErrorCode.InvalidParams);
            }
        }
    }

    /// <summary>
    /// <c>_meta</c>, except W3C trace context within its own size limits (<c>traceparent</c> up to 55 characters,
    /// <c>tracestate</c> up to 512): MCP SDKs add it to every request when tracing is on, so it is the client
    /// library's, bounded, and not the caller's payload. Anything larger, and every other key, counts.
    /// </summary>
    private static long MeasureMeta(JsonObject meta, CountingWriter counter, Utf8JsonWriter writer)
    {
        long size = 2;
        foreach (var (key, value) in meta)
        {
            if (IsTraceContext(key, value))
            {
                continue;
            }

            size += Encoding.UTF8.GetByteCount(key) + 4 + Measure(value, counter, writer);
        }

        return size;
    }

    private static bool IsTraceContext(string key, JsonNode? value) =>
        value is JsonValue v && v.TryGetValue<string>(out var text) && key switch
        {
            "traceparent" => text.Length <= 55,
            "tracestate" => text.Length <= 512,
            _ => false,
        };

    /// <summary>The UTF-8 length of a value as JSON, measured without keeping it.</summary>
    private static long Measure(JsonNode? value, CountingWriter counter, Utf8JsonWriter writer)
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
        return counter.Count;
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

        // The writer asks for room for its next token only: the buffer stays small (a larger one is not kept).
        private byte[] Buffer(int sizeHint) => sizeHint > _buffer.Length ? new byte[sizeHint] : _buffer;
    }
}
