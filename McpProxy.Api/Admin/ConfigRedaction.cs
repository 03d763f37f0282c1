using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using McpProxy.Configuration;

namespace McpProxy.Admin;

/// <summary>
/// The config as <c>/admin/config</c> shows it, with nothing secret in it: every property marked
/// <see cref="SecretAttribute"/> (tokens, the admin token, bearer tokens, stdio <c>env</c> values and <c>args</c>,
/// <c>default_args</c> and <c>inject_args</c> values) keeps its shape with each value replaced by
/// <see cref="Redacted"/>; every string that came from <c>${VAR}</c> expansion is replaced whatever its key; and the
/// userinfo and query of every URL (<c>https://user:pass@host/mcp?key=…</c>) are replaced.
/// </summary>
internal static class ConfigRedaction
{
    public const string Redacted = "[redacted]";

    private static readonly JsonSerializerOptions Plain = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    private static readonly JsonSerializerOptions Options = new(Plain)
    {
        WriteIndented = true,
        TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { RedactSecrets } },
    };

    /// <summary>The config in effect (with the backends hot reload applied), redacted.</summary>
    public static JsonObject Redact(ProxyConfig config, IReadOnlyList<BackendConfig> backends)
    {
        var expanded = new HashSet<string>(config.ExpandedValues, StringComparer.Ordinal);
        foreach (var backend in backends)
        {
            expanded.UnionWith(backend.ExpandedValues);
        }

        var node = JsonSerializer.SerializeToNode(config with { Backends = backends }, Options)!.AsObject();
        RedactStrings(node, expanded);
        return node;
    }

    /// <summary>Serializes the JSON with the same settings the admin API writes it with.</summary>
    public static string ToJson(JsonNode node) => node.ToJsonString(Options);

    private static void RedactSecrets(JsonTypeInfo type)
    {
        foreach (var property in type.Properties)
        {
            if (property.AttributeProvider?.IsDefined(typeof(SecretAttribute), inherit: true) == true)
            {
                property.CustomConverter = (JsonConverter)Activator.CreateInstance(typeof(ShapeOnlyConverter<>).MakeGenericType(property.PropertyType))!;
            }
        }
    }

    /// <summary>Walks every string: expanded values and URL credentials or queries are replaced in place.</summary>
    private static void RedactStrings(JsonNode? node, HashSet<string> expanded)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj.ToList())
                {
                    if (value is JsonValue v && v.TryGetValue<string>(out var s))
                    {
                        obj[key] = RedactString(s, expanded);
                    }
                    else
                    {
                        RedactStrings(value, expanded);
                    }
                }

                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    if (array[i] is JsonValue v && v.TryGetValue<string>(out var s))
                    {
                        array[i] = RedactString(s, expanded);
                    }
                    else
                    {
                        RedactStrings(array[i], expanded);
                    }
                }

                break;
        }
    }

    private static string RedactString(string value, HashSet<string> expanded) =>
        expanded.Contains(value) ? Redacted : RedactUrl(value);

    /// <summary><c>scheme://[redacted]@host:port/path?[redacted]</c>: a URL's userinfo and query may hold credentials.</summary>
    internal static string RedactUrl(string value)
    {
        if (!value.Contains("://", StringComparison.Ordinal) || !Uri.TryCreate(value, UriKind.Absolute, out var uri)
            || (uri.UserInfo.Length == 0 && uri.Query.Length == 0))
        {
            return value;
        }

        return $"{uri.Scheme}://{(uri.UserInfo.Length > 0 ? Redacted + "@" : "")}{uri.Authority}{uri.AbsolutePath}{(uri.Query.Length > 0 ? "?" + Redacted : "")}";
    }

    /// <summary>Writes a secret property's shape — keys and list lengths — with every value <see cref="Redacted"/>.</summary>
    private sealed class ShapeOnlyConverter<T> : JsonConverter<T>
    {
        public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            throw new NotSupportedException("The redacted config is write-only.");

        public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options) =>
            Shape(JsonSerializer.SerializeToNode(value, Plain)).WriteTo(writer);

        private static JsonNode Shape(JsonNode? node) => node switch
        {
            JsonObject obj => new JsonObject(obj.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)Shape(p.Value)))),
            JsonArray array => new JsonArray([.. array.Select(Shape)]),
            _ => JsonValue.Create(Redacted),
        };
    }
}
