using System.Text.Json;
using ModelContextProtocol.Protocol;

namespace McpProxy.Calls;

/// <summary>
/// A backend's result taken on the fast path: the <c>result</c> value's bytes exactly as the backend sent them, and the
/// few facts the filters read from it (read once, when it arrived) — whether a tool reported an error, whether the
/// backend asked for input (<c>resultType: "input_required"</c>), and its caching hints. The cache stores these bytes as
/// they are: the same JSON the typed path stores for the same result.
/// </summary>
internal sealed class RawResult : ICacheableResult
{
    private RawResult(ReadOnlyMemory<byte> json) => Json = json;

    /// <summary>The <c>result</c> object, as JSON (a slice of the backend's message, never a pooled buffer).</summary>
    public ReadOnlyMemory<byte> Json { get; }

    /// <summary>A tool's <c>isError: true</c>.</summary>
    public bool IsError { get; private init; }

    /// <summary>The backend answered <c>input_required</c> (Multi Round-Trip Requests): never stored nor shared.</summary>
    public bool InputRequired { get; private init; }

    /// <summary>Where the result names its server (<c>_meta.io.modelcontextprotocol/serverInfo</c>), or where that would go.</summary>
    public ServerInfoSlot ServerInfo { get; private init; }

    /// <summary>A resource's contents URIs (<c>contents[].uri</c>): where each lies in <see cref="Json"/>, and its value.</summary>
    public IReadOnlyList<(int Start, int Length, string Uri)> ContentUris { get; private init; } = [];

    /// <summary>
    /// The log notifications (whole JSON-RPC messages) the backend sent before its answer, when the call asked for them
    /// (<see cref="RawCall.LogCapacity"/>, the newest ones): a legacy session receives them before the result, as on the
    /// typed path. Never cached.
    /// </summary>
    public IReadOnlyCollection<byte[]>? Logs { get; set; }

    /// <summary>Log notifications past <see cref="RawCall.LogCapacity"/>, dropped (the oldest), to be counted as a session's queue counts its drops.</summary>
    public long LogsDropped { get; set; }

    /// <inheritdoc />
    public TimeSpan? TimeToLive { get; set; }

    /// <inheritdoc />
    public CacheScope? CacheScope { get; set; }

    /// <summary>
    /// Reads the facts of a result the backend sent: <paramref name="result"/> is an element of a document parsed from
    /// <paramref name="message"/> without a copy (<see cref="JsonDocument.Parse(ReadOnlyMemory{byte}, JsonDocumentOptions)"/>),
    /// and the result keeps its slice of that memory rather than a copy.
    /// </summary>
    public static RawResult From(JsonElement result, ReadOnlyMemory<byte> message)
    {
        var (offset, length) = JsonSlice.Of(message.Span, result);
        return offset >= 0 && offset + length <= message.Length
            ? Facts(result, message.Slice(offset, length))
            : FromJson(System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(result).ToArray());
    }

    /// <summary>A result read back from the cache.</summary>
    public static RawResult FromCached(string json) => FromJson(System.Text.Encoding.UTF8.GetBytes(json));

    private static RawResult FromJson(byte[] json)
    {
        using var document = JsonDocument.Parse(json);
        return Facts(document.RootElement, json);
    }

    /// <summary>A typed result as the fast path holds it (its JSON).</summary>
    public static RawResult FromTyped(object result) =>
        FromCached(JsonSerializer.Serialize(result, result.GetType(), ModelContextProtocol.McpJsonUtilities.DefaultOptions));

    private static RawResult Facts(JsonElement result, ReadOnlyMemory<byte> json)
    {
        if (result.ValueKind != JsonValueKind.Object)
        {
            return new RawResult(json);
        }

        var ttl = result.TryGetProperty("ttlMs"u8, out var ttlMs) && ttlMs.ValueKind == JsonValueKind.Number && ttlMs.TryGetInt64(out var ms)
            ? TimeSpan.FromMilliseconds(ms)
            : (TimeSpan?)null;
        var scope = result.TryGetProperty("cacheScope"u8, out var cacheScope) && cacheScope.ValueKind == JsonValueKind.String
            ? (cacheScope.ValueEquals("public"u8) ? ModelContextProtocol.Protocol.CacheScope.Public : cacheScope.ValueEquals("private"u8) ? ModelContextProtocol.Protocol.CacheScope.Private : (CacheScope?)null)
            : null;
        var span = json.Span;
        List<(int, int, string)>? uris = null;
        if (result.TryGetProperty("contents"u8, out var contents) && contents.ValueKind == JsonValueKind.Array)
        {
            foreach (var content in contents.EnumerateArray())
            {
                if (content.ValueKind == JsonValueKind.Object && content.TryGetProperty("uri"u8, out var uri) && uri.ValueKind == JsonValueKind.String)
                {
                    var (start, length) = JsonSlice.Of(span, uri);
                    (uris ??= []).Add((start, length, uri.GetString()!));
                }
            }
        }

        return new RawResult(json)
        {
            ServerInfo = ServerInfoSlot.Of(span, result),
            ContentUris = uris ?? [],
            IsError = result.TryGetProperty("isError"u8, out var isError) && isError.ValueKind == JsonValueKind.True,
            InputRequired = result.TryGetProperty("resultType"u8, out var type) && type.ValueKind == JsonValueKind.String && type.ValueEquals("input_required"u8),
            TimeToLive = ttl,
            CacheScope = scope,
        };
    }
}

/// <summary>
/// Where a result names its server, found when the result is read (so the caller's copy is spliced without a second
/// parse): the value of <c>_meta.io.modelcontextprotocol/serverInfo</c> to replace, or the <c>_meta</c> object (or, with
/// no <c>_meta</c>, the result object) whose closing brace the member goes before.
/// </summary>
internal readonly record struct ServerInfoSlot(ServerInfoSlot.Where Kind, int Start, int Length, bool HasMembers)
{
    internal enum Where
    {
        /// <summary>Not an object: nothing to name.</summary>
        None,

        /// <summary><see cref="Start"/>/<see cref="Length"/>: the existing value.</summary>
        Value,

        /// <summary>The <c>_meta</c> object, which lacks the key.</summary>
        Meta,

        /// <summary>The result object, which has no <c>_meta</c>.</summary>
        Result,
    }

    public static ServerInfoSlot Of(ReadOnlySpan<byte> source, JsonElement result)
    {
        if (result.TryGetProperty("_meta"u8, out var meta) && meta.ValueKind == JsonValueKind.Object)
        {
            if (meta.TryGetProperty("io.modelcontextprotocol/serverInfo"u8, out var info))
            {
                var (start, length) = JsonSlice.Of(source, info);
                return new(Where.Value, start, length, true);
            }

            var (metaStart, metaLength) = JsonSlice.Of(source, meta);
            return new(Where.Meta, metaStart, metaLength, meta.EnumerateObject().Any());
        }

        var (resultStart, resultLength) = JsonSlice.Of(source, result);
        return new(Where.Result, resultStart, resultLength, result.EnumerateObject().Any());
    }
}
