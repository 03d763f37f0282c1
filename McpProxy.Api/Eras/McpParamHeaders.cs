using System.Globalization;
using System.Text.Json;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpProxy.Eras;

/// <summary>
/// <c>Mcp-Param-*</c> headers of a modern <c>tools/call</c> (MCP 2026-07-28, streamable HTTP "custom headers"): a tool
/// whose <c>inputSchema</c> property carries <c>"x-mcp-header": "Name"</c> has that argument mirrored in the header
/// <c>Mcp-Param-Name</c> (plain, or <c>=?base64?…?=</c>), and "any server that processes the message body MUST
/// validate" them. The SDK validates only tools of its own tool collection; the proxy's tools are its backends', so
/// the proxy checks them against the routed tool's schema: header present iff the argument is present and not null,
/// decodable, and equal to the argument (numbers compared as numbers). A mismatch is <c>-32020</c>, which the SDK
/// answers with HTTP 400. Top-level properties only (as the spec places <c>x-mcp-header</c>).
/// </summary>
internal static class McpParamHeaders
{
    public const string Prefix = "Mcp-Param-";

    /// <summary>Whether a tool's schema annotates any argument with <c>x-mcp-header</c> (its calls carry <c>Mcp-Param-*</c> headers).</summary>
    public static bool Annotates(JsonElement inputSchema) =>
        inputSchema.ValueKind == JsonValueKind.Object
        && inputSchema.TryGetProperty("properties", out var properties)
        && properties.ValueKind == JsonValueKind.Object
        && properties.EnumerateObject().Any(p => p.Value.ValueKind == JsonValueKind.Object && p.Value.TryGetProperty("x-mcp-header", out _));

    public static void Validate(string tool, JsonElement inputSchema, IDictionary<string, JsonElement>? arguments, IHeaderDictionary headers)
    {
        if (inputSchema.ValueKind != JsonValueKind.Object
            || !inputSchema.TryGetProperty("properties", out var properties)
            || properties.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        foreach (var property in properties.EnumerateObject())
        {
            if (property.Value.ValueKind != JsonValueKind.Object
                || !property.Value.TryGetProperty("x-mcp-header", out var name)
                || name.ValueKind != JsonValueKind.String
                || name.GetString() is not { Length: > 0 } headerSuffix)
            {
                continue;
            }

            var header = Prefix + headerSuffix;
            var values = headers[header];
            var present = arguments is not null && arguments.TryGetValue(property.Name, out var argument) && argument.ValueKind != JsonValueKind.Null;
            if (!present)
            {
                if (values.Count > 0)
                {
                    throw Mismatch(tool, $"header {header} is sent but argument '{property.Name}' is not");
                }

                continue;
            }

            if (values.Count == 0)
            {
                throw Mismatch(tool, $"header {header} is required for argument '{property.Name}'");
            }

            if (values.Count > 1 || McpHeaderEncoder.DecodeValue(values.ToString().Trim()) is not { } sent)
            {
                throw Mismatch(tool, $"header {header} is not a valid value");
            }

            var value = arguments![property.Name];
            if (!Same(sent, value))
            {
                throw Mismatch(tool, $"header {header} does not match argument '{property.Name}'");
            }
        }
    }

    private static bool Same(string sent, JsonElement argument)
    {
        if (argument.ValueKind == JsonValueKind.Number)
        {
            return decimal.TryParse(sent, NumberStyles.Float, CultureInfo.InvariantCulture, out var header)
                && argument.TryGetDecimal(out var body) && header == body;
        }

        return McpHeaderEncoder.ConvertToHeaderValue(argument) is { } expected && McpHeaderEncoder.DecodeValue(expected) == sent;
    }

    private static McpProtocolException Mismatch(string tool, string detail) =>
        new($"Header mismatch for tool '{tool}': {detail}.", McpErrorCode.HeaderMismatch);
}
