using System.Text.Json;
using System.Text.Json.Nodes;

namespace McpProxy.Configuration;

/// <summary>One table of <c>mcp-proxy.toml</c> as the reader sees it (<see cref="ConfigReader.Tables"/>).</summary>
/// <param name="Path">Dotted path from the root; an array of tables (<c>[[backends]]</c>) has no index.</param>
/// <param name="Model">The record the table is read into: its properties give the keys' types and defaults.</param>
/// <param name="IsArray">An array of tables (<c>[[path]]</c>).</param>
/// <param name="Required">Keys the reader reports as missing when absent.</param>
internal sealed record ConfigTable(string Path, Type Model, bool IsArray = false, IReadOnlyList<string>? Required = null)
{
    /// <summary>The keys the reader allows (anything else is an "unknown key" error): derived from <see cref="Model"/>.</summary>
    public IReadOnlyList<string> Keys => ConfigKeys.Of(Model);
}

/// <summary>
/// The JSON Schema of <c>mcp-proxy.toml</c> (checked in as <c>schemas/mcp-proxy.schema.json</c>, for Taplo / Even Better
/// TOML and any editor with a TOML language server): generated from the reader's tables and allowed keys
/// (<see cref="ConfigReader.Tables"/>) and the config records' property types and defaults, so it cannot drift from what
/// <c>--check</c> accepts. Draft-07, the newest draft every TOML language server understands. Value ranges and
/// cross-key rules stay <c>--check</c>'s: the schema knows keys, types, fixed choices and required keys.
/// </summary>
internal static class ConfigSchema
{
    public const string RelativePath = "schemas/mcp-proxy.schema.json";

    /// <summary>The schema as the checked-in file holds it: indented JSON, <c>\n</c> line ends, a final newline.</summary>
    public static string Generate()
    {
        var tables = ConfigReader.Tables.ToDictionary(t => t.Path, StringComparer.Ordinal);
        var schema = new JsonObject
        {
            ["$schema"] = "http://json-schema.org/draft-07/schema#",
            ["title"] = "mcp-proxy.toml",
            ["description"] = "McpProxy configuration. Generated from the config model (McpProxy.Api/Configuration); regenerate, never edit: see README, \"Config schema / editor support\".",
        };
        foreach (var (name, value) in Table(tables[""], tables))
        {
            schema[name] = value?.DeepClone();
        }

        var json = schema.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        return json.ReplaceLineEndings("\n") + "\n";
    }

    private static JsonObject Table(ConfigTable table, Dictionary<string, ConfigTable> tables)
    {
        var defaults = Defaults(table.Model);
        var properties = new JsonObject();
        foreach (var key in table.Keys)
        {
            var path = table.Path.Length == 0 ? key : table.Path + "." + key;
            if (tables.TryGetValue(path, out var child))
            {
                var node = Table(child, tables);
                properties[key] = child.IsArray ? new JsonObject { ["type"] = "array", ["items"] = node } : node;
                continue;
            }

            var property = ConfigKeys.KeyProperties(table.Model).Single(p => p.Key == key).Property;
            var schema = ValueSchema(property.PropertyType, path);
            if (defaults is not null && table.Required?.Contains(key) != true && Default(property.GetValue(defaults)) is { } value)
            {
                schema["default"] = value;
            }

            properties[key] = schema;
        }

        var result = new JsonObject { ["type"] = "object", ["properties"] = properties, ["additionalProperties"] = false };
        if (table.Required is { Count: > 0 } required)
        {
            result["required"] = new JsonArray([.. required.Select(r => (JsonNode)r)]);
        }

        return result;
    }

    private static JsonObject ValueSchema(Type type, string path)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (ConfigReader.Choices.TryGetValue(path, out var choices))
        {
            return new JsonObject { ["type"] = "string", ["enum"] = new JsonArray([.. choices.Select(c => (JsonNode)c)]) };
        }

        if (type.IsEnum)
        {
            // The reader takes enum names in any case: the enum for completion, the pattern for what is accepted.
            var names = Enum.GetNames(type).Select(n => n.ToLowerInvariant()).ToList();
            return new JsonObject
            {
                ["type"] = "string",
                ["anyOf"] = new JsonArray(
                    new JsonObject { ["enum"] = new JsonArray([.. names.Select(n => (JsonNode)n)]) },
                    new JsonObject { ["pattern"] = "^(" + string.Join("|", names.Select(CaseInsensitive)) + ")$" }),
            };
        }

        if (type == typeof(string))
        {
            return new JsonObject { ["type"] = "string" };
        }

        if (type == typeof(bool))
        {
            return new JsonObject { ["type"] = "boolean" };
        }

        if (type == typeof(int) || type == typeof(long))
        {
            return new JsonObject { ["type"] = "integer" };
        }

        if (type == typeof(double))
        {
            return new JsonObject { ["type"] = "number" };
        }

        if (type == typeof(JsonObject))
        {
            return new JsonObject { ["type"] = "object" };
        }

        if (typeof(IEnumerable<KeyValuePair<string, string>>).IsAssignableFrom(type))
        {
            // A table of strings; numbers and booleans are taken as their text.
            return new JsonObject { ["type"] = "object", ["additionalProperties"] = new JsonObject { ["type"] = new JsonArray("string", "integer", "number", "boolean") } };
        }

        if (typeof(IEnumerable<string>).IsAssignableFrom(type))
        {
            return new JsonObject { ["type"] = "array", ["items"] = new JsonObject { ["type"] = "string" } };
        }

        throw new InvalidOperationException($"config key '{path}': no schema for the property type {type.Name}");
    }

    /// <summary>The record with its defaults, when it has a parameterless constructor.</summary>
    private static object? Defaults(Type model) =>
        model.GetConstructor(Type.EmptyTypes) is null ? null : Activator.CreateInstance(model);

    private static JsonNode? Default(object? value) => value switch
    {
        string s => s,
        bool b => b,
        int i => i,
        long l => l,
        double d => d,
        Enum e => e.ToString().ToLowerInvariant(),
        IEnumerable<string> list when list.Any() => new JsonArray([.. list.Select(x => (JsonNode)x)]),
        _ => null,
    };

    private static string CaseInsensitive(string name) =>
        string.Concat(name.Select(c => char.IsLetter(c) ? $"[{char.ToLowerInvariant(c)}{char.ToUpperInvariant(c)}]" : c.ToString()));
}
