using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace McpProxy.Backends.Sample;

/// <summary>
/// <c>echo_args</c>: accepts any arguments object and returns, as text, the JSON object of the arguments it
/// received (properties in received order, values verbatim). Used to test argument injection by the proxy.
/// </summary>
internal sealed class EchoArgsTool : McpServerTool
{
    public const string ToolName = "echo_args";

    private static readonly JsonElement InputSchema = JsonDocument.Parse("""{"type":"object","additionalProperties":true}""").RootElement.Clone();

    public override Tool ProtocolTool { get; } = new()
    {
        Name = ToolName,
        Description = "Returns the exact arguments object it received, as JSON text.",
        InputSchema = InputSchema,
        Annotations = new ToolAnnotations { ReadOnlyHint = true, IdempotentHint = true, OpenWorldHint = false },
    };

    public override IReadOnlyList<object> Metadata { get; } = [];

    public override ValueTask<CallToolResult> InvokeAsync(RequestContext<CallToolRequestParams> request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return ValueTask.FromResult(new CallToolResult
        {
            Content = [new TextContentBlock { Text = Serialize(request.Params?.Arguments) }],
        });
    }

    /// <summary>Serializes the arguments dictionary as a compact JSON object (<c>{}</c> when there are none).</summary>
    internal static string Serialize(IDictionary<string, JsonElement>? arguments)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            foreach (var (name, value) in arguments ?? new Dictionary<string, JsonElement>())
            {
                writer.WritePropertyName(name);
                value.WriteTo(writer);
            }

            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}
