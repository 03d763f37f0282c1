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
        return Facts(result, offset >= 0 && offset + length <= message.Length
            ? message.Slice(offset, length)
            : System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(result).ToArray());
    }

    /// <summary>A result read back from the cache.</summary>
    public static RawResult FromCached(string json)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(json);
        using var document = JsonDocument.Parse(bytes);
        return Facts(document.RootElement, bytes);
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
        return new RawResult(json)
        {
            IsError = result.TryGetProperty("isError"u8, out var isError) && isError.ValueKind == JsonValueKind.True,
            InputRequired = result.TryGetProperty("resultType"u8, out var type) && type.ValueKind == JsonValueKind.String && type.ValueEquals("input_required"u8),
            TimeToLive = ttl,
            CacheScope = scope,
        };
    }
}
