using System.Buffers;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using McpProxy.Eras;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpProxy.Calls;

/// <summary>
/// A call taken on the fast path (README "Fast path"): the caller's <c>params</c> as parsed JSON (no SDK message model)
/// and the request the backend gets, built once from them so that every attempt (retries, hedging) sends the same
/// bytes: the caller's params with the backend's own name or URI spliced in, a request id of the proxy's, and the
/// per-request <c>_meta</c> of the 2026-07-28 era — the proxy's protocol version and client info, the caller's own
/// client capabilities (a backend asks only for what the caller can give), the call's trace context, and the caller's
/// other, non-reserved <c>_meta</c> keys.
/// </summary>
internal sealed class RawCall
{
    private static long s_ids;

    private static ReadOnlySpan<byte> IdPrefix => "mcp-proxy-fast-"u8;

    // The proxy's client info, as the typed path's MCP client gives it (Backends.BackendConnection).
    private static readonly byte[] ClientInfo = JsonSerializer.SerializeToUtf8Bytes(
        new Implementation { Name = "mcp-proxy", Version = typeof(RawCall).Assembly.GetName().Version?.ToString() ?? "0.1.0" },
        McpJsonUtilities.DefaultOptions);

    /// <summary>A W3C <c>traceparent</c> (version 00) is always this long: each attempt's is written over the placeholder.</summary>
    public const int TraceparentLength = 55;

    private static readonly string Placeholder = "00-" + new string('0', 32) + "-" + new string('0', 16) + "-00";

    private RawCall(JsonElement parameters, ReadOnlyMemory<byte> body, string backendItem, int traceparentAt, string? callerTraceparent, int logCapacity)
    {
        LogCapacity = logCapacity;
        Params = parameters;
        Body = body;
        BackendItem = backendItem;
        TraceparentAt = traceparentAt;
        CallerTraceparent = callerTraceparent;
    }

    /// <summary>
    /// The caller's own <c>_meta</c> <c>traceparent</c> (a version-00 one), which the backend gets when the proxy records
    /// no span of its own: as on the typed path, a proxy that does not trace passes the caller's trace context on.
    /// </summary>
    public string? CallerTraceparent { get; }

    /// <summary>
    /// Where the last member of <c>_meta</c>, <c>,"traceparent":"…"</c>, starts in <see cref="Body"/>: each attempt
    /// carries its own span's there (the value is the member's last 56 bytes, quote included), or none.
    /// </summary>
    public int TraceparentAt { get; }

    /// <summary>The caller's <c>params</c> (its document is owned by the fast path's front and lives as long as the call).</summary>
    public JsonElement Params { get; }

    /// <summary>The JSON-RPC request the backend gets.</summary>
    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>
    /// How many log notifications the backend's answer may leave for the caller (<see cref="RawResult.Logs"/>: the newest
    /// are kept, the rest dropped and counted); 0 when the request names no log level (a legacy session's call names its
    /// session's).
    /// </summary>
    public int LogCapacity { get; }

    /// <summary>The item as the backend names it: its <c>Mcp-Name</c>.</summary>
    public string BackendItem { get; }

    /// <summary>
    /// Builds the backend's request for <paramref name="method"/> on <paramref name="backendItem"/> from the caller's
    /// <paramref name="parameters"/> (already checked by the front: only <c>name</c>/<c>uri</c>, <c>arguments</c> and
    /// <c>_meta</c>, and a <c>_meta</c> with the era's keys). A legacy session's call (<paramref name="session"/>) has no
    /// per-request <c>_meta</c> of the era: it declares the session's capabilities and asks for its log level.
    /// </summary>
    public static RawCall Create(string method, JsonElement parameters, string backendItem, SessionCall? session = null)
    {
        // The writer and its buffer are the thread's, reused (as System.Text.Json caches its own writers): the body is
        // copied out once, at its exact size.
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(4096);
        var writer = t_writer ??= new Utf8JsonWriter(buffer);
        buffer.ResetWrittenCount();
        writer.Reset(buffer);
        try
        {
            writer.WriteStartObject();
            writer.WriteString("jsonrpc"u8, "2.0"u8);
            Span<byte> id = stackalloc byte[IdPrefix.Length + 20];
            IdPrefix.CopyTo(id);
            Interlocked.Increment(ref s_ids).TryFormat(id[IdPrefix.Length..], out var digits, default, CultureInfo.InvariantCulture);
            writer.WriteString("id"u8, id[..(IdPrefix.Length + digits)]);
            writer.WriteString("method"u8, method);
            writer.WriteStartObject("params"u8);
            JsonElement meta = default;
            foreach (var property in parameters.EnumerateObject())
            {
                if (property.NameEquals("name"u8) || property.NameEquals("uri"u8))
                {
                    writer.WriteString(property.NameEquals("name"u8) ? "name"u8 : "uri"u8, backendItem);
                }
                else if (property.NameEquals("_meta"u8))
                {
                    meta = property.Value;
                }
                else
                {
                    writer.WritePropertyName(property.Name);
                    writer.WriteRawValue(JsonMarshal.GetRawUtf8Value(property.Value), skipInputValidation: true);
                }
            }

            var (traceparentAt, callerTraceparent) = WriteMeta(writer, meta, buffer, session);
            writer.WriteEndObject();
            writer.WriteEndObject();
            writer.Flush();
            return new RawCall(parameters, buffer.WrittenSpan.ToArray(), backendItem, traceparentAt, callerTraceparent, session?.LogCapacity ?? 0);
        }
        finally
        {
            if (buffer.Capacity > MaxKeptBuffer)
            {
                t_buffer = null; // a large call's buffer is not kept for the thread's next one
                t_writer = null;
            }
        }
    }

    private const int MaxKeptBuffer = 64 * 1024;

    // Each level as the protocol spells it (the SDK's own serialization), written without a per-call serialization.
    private static readonly string[] LevelNames = [.. Enum.GetValues<LoggingLevel>().OrderBy(l => (int)l)
        .Select(l => JsonSerializer.Serialize(l, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(LoggingLevel))).Trim('"'))];

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    private static (int TraceparentAt, string? CallerTraceparent) WriteMeta(Utf8JsonWriter writer, JsonElement meta, ArrayBufferWriter<byte> buffer, SessionCall? session)
    {
        writer.WriteStartObject("_meta"u8);
        string? traceState = null;
        string? traceparent = null;
        if (meta.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in meta.EnumerateObject())
            {
                if (property.NameEquals("tracestate"u8) && property.Value.ValueKind == JsonValueKind.String)
                {
                    traceState = property.Value.GetString();
                    continue;
                }

                if (property.NameEquals("traceparent"u8) && property.Value.ValueKind == JsonValueKind.String
                    && property.Value.GetString() is { Length: TraceparentLength } value && value.StartsWith("00-", StringComparison.Ordinal))
                {
                    traceparent = value;
                    continue;
                }

                if (property.NameEquals("progressToken"u8) || property.NameEquals("traceparent"u8)
                    || property.NameEquals("io.modelcontextprotocol/logLevel"u8)
                    || property.NameEquals("io.modelcontextprotocol/clientCapabilities"u8)
                    || property.NameEquals("io.modelcontextprotocol/protocolVersion"u8)
                    || property.NameEquals("io.modelcontextprotocol/clientInfo"u8))
                {
                    continue;
                }

                var name = property.Name;
                if (CallerMeta.IsReserved(name))
                {
                    continue; // the client↔proxy hop's own keys
                }

                writer.WritePropertyName(name);
                writer.WriteRawValue(JsonMarshal.GetRawUtf8Value(property.Value), skipInputValidation: true);
            }
        }

        writer.WriteString("io.modelcontextprotocol/protocolVersion"u8, ModernEra.Version);
        writer.WritePropertyName("io.modelcontextprotocol/clientInfo"u8);
        writer.WriteRawValue(ClientInfo, skipInputValidation: true);
        writer.WritePropertyName("io.modelcontextprotocol/clientCapabilities"u8);
        if (session is not null)
        {
            writer.WriteRawValue(session.Capabilities.Span, skipInputValidation: true);
            writer.WriteString("io.modelcontextprotocol/logLevel"u8, LevelNames[(int)session.LogLevel]);
        }
        else if (meta.ValueKind == JsonValueKind.Object && meta.TryGetProperty("io.modelcontextprotocol/clientCapabilities"u8, out var capabilities))
        {
            writer.WriteRawValue(JsonMarshal.GetRawUtf8Value(capabilities), skipInputValidation: true);
        }
        else
        {
            writer.WriteRawValue("{}"u8, skipInputValidation: true);
        }

        if (traceState is { Length: > 0 })
        {
            writer.WriteString("tracestate"u8, traceState);
        }

        // Last, so that it can be cut out whole (with its comma) when nothing traces: the backend's work joins the span
        // of the attempt that sends it (Backends.BackendRawSend writes it over the placeholder), as the typed path's MCP
        // client puts its own span there.
        writer.Flush();
        var memberAt = buffer.WrittenCount;
        writer.WriteString("traceparent"u8, Placeholder);
        writer.WriteEndObject();
        writer.Flush();
        return (memberAt, traceparent);
    }

    /// <summary>The tool's arguments as the typed path holds them (read when a filter asks: audit, cache key).</summary>
    public IDictionary<string, JsonElement>? Arguments()
    {
        if (!Params.TryGetProperty("arguments"u8, out var arguments) || arguments.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        var result = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var property in arguments.EnumerateObject())
        {
            result[property.Name] = property.Value.Clone();
        }

        return result;
    }

    /// <summary>The typed params the backend gets, for what needs the SDK's model (a mirror's copy).</summary>
    public RequestParams ToTyped(string method, string originalItem)
    {
        RequestParams typed = method switch
        {
            RequestMethods.ToolsCall => new CallToolRequestParams { Name = originalItem, Arguments = Deserialize<CallToolRequestParams>().Arguments },
            RequestMethods.PromptsGet => new GetPromptRequestParams { Name = originalItem, Arguments = Deserialize<GetPromptRequestParams>().Arguments },
            RequestMethods.ResourcesRead => new ReadResourceRequestParams { Uri = originalItem },
            _ => throw new InvalidOperationException($"{method} is not taken on the fast path."),
        };

        if (Params.TryGetProperty("_meta"u8, out var meta) && meta.ValueKind == JsonValueKind.Object)
        {
            typed.Meta = CallerMeta.Forwarded(JsonNode.Parse(JsonMarshal.GetRawUtf8Value(meta)) as JsonObject);
        }

        return typed;

        T Deserialize<T>() where T : class =>
            (T)(Params.Deserialize(McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(T))) ?? throw new JsonException($"Empty {method} params."));
    }
}

/// <summary>
/// A legacy session's call on the fast path: the session has no per-request <c>_meta</c> of the 2026-07-28 era, so the
/// backend gets the capabilities the session declared at <c>initialize</c> and the session's log level; of the log lines
/// it sends during the call, the session receives at most <paramref name="LogCapacity"/> (its queue's bound).
/// </summary>
internal sealed record SessionCall(string SessionId, string? ProtocolVersion, ReadOnlyMemory<byte> Capabilities, LoggingLevel LogLevel, int LogCapacity);
