using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using McpProxy.Configuration;
using McpProxy.Tests.Infrastructure;
using Tomlyn.Parsing;

namespace McpProxy.Tests.Configuration;

/// <summary>
/// The JSON Schema of mcp-proxy.toml (schemas/mcp-proxy.schema.json): generated from the config model, checked in, the
/// reference and shipped configs valid against it, and agreeing with <c>--check</c> on every key.
/// </summary>
/// <remarks>
/// Regenerate the checked-in file after a config change with
/// <c>MCP_PROXY_UPDATE_SCHEMA=1 dotnet test McpProxy.Tests --filter FullyQualifiedName~ConfigSchemaTests</c>.
/// </remarks>
public sealed class ConfigSchemaTests
{
    public const string UpdateVariable = "MCP_PROXY_UPDATE_SCHEMA";

    private static string SchemaPath => Path.Combine(TestPaths.RepoRoot, ConfigSchema.RelativePath);

    [Fact]
    public void Checked_in_schema_is_what_the_config_model_generates()
    {
        var generated = ConfigSchema.Generate();
        if (Environment.GetEnvironmentVariable(UpdateVariable) == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(SchemaPath)!);
            File.WriteAllText(SchemaPath, generated);
        }

        Assert.True(File.Exists(SchemaPath), $"{ConfigSchema.RelativePath} is missing: run the tests with {UpdateVariable}=1");
        var checkedIn = File.ReadAllText(SchemaPath).ReplaceLineEndings("\n");
        Assert.True(generated == checkedIn,
            $"{ConfigSchema.RelativePath} is out of date with the config model: regenerate it with {UpdateVariable}=1 dotnet test McpProxy.Tests --filter FullyQualifiedName~ConfigSchemaTests");
    }

    public static TheoryData<string> ShippedConfigs() =>
    [
        Path.Combine("McpProxy.Tests", "Configuration", ConfigTestSupport.ReferenceFileName),
        "mcp-proxy.toml",
        Path.Combine("McpProxy.AppHost", "mcp-proxy.aspire.toml"),
    ];

    [Theory]
    [MemberData(nameof(ShippedConfigs))]
    public void Reference_and_shipped_configs_are_valid_against_the_schema(string relativePath)
    {
        var text = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, relativePath));
        var results = Validate(ToJson(Tree(text)));
        Assert.True(results.IsValid, Describe(results));
    }

    [Theory]
    [InlineData("mcp-proxy.toml")]
    [InlineData("McpProxy.AppHost/mcp-proxy.aspire.toml")]
    public void Shipped_configs_point_editors_at_the_schema_on_their_first_line(string relativePath)
    {
        var path = Path.Combine(TestPaths.RepoRoot, relativePath);
        var first = File.ReadLines(path).First();
        Assert.StartsWith("#:schema ", first, StringComparison.Ordinal);
        // Taplo resolves a relative directive against the file's own folder.
        var target = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, first["#:schema ".Length..].Trim()));
        Assert.Equal(SchemaPath, target);
    }

    /// <summary>The schema's tables and keys are exactly the reader's: every allowed key is in it, and nothing else.</summary>
    [Fact]
    public void Every_key_the_reader_allows_is_in_the_schema_and_nothing_else()
    {
        var schema = JsonNode.Parse(ConfigSchema.Generate())!;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var table in ConfigReader.Tables)
        {
            var node = TableSchema(schema, table.Path);
            Assert.Equal(false, (bool?)node["additionalProperties"]);
            Assert.Equal(table.Keys.Order(StringComparer.Ordinal), node["properties"]!.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal));
            seen.Add(table.Path);
        }

        // Every table object in the schema is one of the reader's tables (no table the reader does not know).
        foreach (var path in SchemaTables(schema, ""))
        {
            Assert.Contains(path, seen);
        }

        // Every allowed-key list the reader declares is registered in ConfigReader.Tables (or is a subset of a table's
        // keys, for keys allowed only with one transport or auth type): a new table cannot be left out of the schema.
        var lists = typeof(ConfigReader).GetFields(BindingFlags.NonPublic | BindingFlags.Static)
            .Where(f => f.FieldType == typeof(string[]) && f.Name.EndsWith("Keys", StringComparison.Ordinal))
            .ToList();
        Assert.NotEmpty(lists);
        foreach (var field in lists)
        {
            var keys = (string[])field.GetValue(null)!;
            Assert.True(
                ConfigReader.Tables.Any(t => ReferenceEquals(t.Keys, keys))
                || (ConfigReader.ConditionalKeys.Any(c => ReferenceEquals(c, keys)) && ConfigReader.Tables.Any(t => keys.All(t.Keys.Contains))),
                $"ConfigReader.{field.Name} is not in ConfigReader.Tables: the schema would not know its table");
        }
    }

    public static TheoryData<string> TablePaths() => [.. ConfigReader.Tables.Select(t => t.Path)];

    /// <summary>The reference config plus the tables it does not use: a valid config with every table of the reader.</summary>
    private static string EveryTable => ConfigTestSupport.ReferenceText + """

        [proxy.names]
        max_length = 64
        charset = "mcp"

        [proxy.sessions]
        idle_timeout_seconds = 600

        [proxy.mrtr]
        state_ttl_seconds = 300

        [performance]
        coalesce_requests = true

        [security]
        max_argument_size = 1048576

        [auth]
        type = "bearer"
        tokens = ["a-token-of-enough-length-0123456789"]

        [[auth.roles]]
        name = "reader"
        allow_tools = ["files/*"]

        [auth.role_mapping]
        claim = "scope"
        mapping = { read = "reader" }

        [observability.tracing]
        enabled = false

        [[backends]]
        name = "every"
        transport = "http"
        url = "http://127.0.0.1:9/mcp"

        [backends.cache]
        tool_ttl_seconds = 10

        [backends.retry]
        max_retries = 1

        [backends.hedging]
        delay_ms = 100

        [backends.outlier_detection]
        consecutive_errors = 3

        [[backends.aliases]]
        from = "a"
        to = "b"

        [[backends.inject_args]]
        tool = "x"
        args = { k = "v" }
        """;

    /// <summary>
    /// An unknown key in any table: <c>--check</c> reports it and the schema rejects it; the same config without it passes
    /// both (the reference config, which has every table).
    /// </summary>
    [Theory]
    [MemberData(nameof(TablePaths))]
    public void An_unknown_key_in_any_table_fails_both_check_and_the_schema(string tablePath)
    {
        var everyTable = Tree(EveryTable);
        Assert.Empty(ReadErrors(everyTable));
        var valid = Validate(ToJson(everyTable));
        Assert.True(valid.IsValid, Describe(valid));

        var tree = Tree(EveryTable);
        var table = Find(tree, tablePath);
        Assert.True(table is not null, $"the test config has no [{tablePath}] table: add one to {nameof(EveryTable)}");
        table!.Entries["no_such_key"] = new TomlScalar(table.Line, 1L);

        var errors = ReadErrors(tree);
        Assert.Contains(errors, e => e.Key.EndsWith("no_such_key", StringComparison.Ordinal));
        var results = Validate(ToJson(tree));
        Assert.False(results.IsValid);
    }

    /// <summary>A wrong type or an unknown choice: both reject it.</summary>
    [Theory]
    [InlineData("proxy", "hot_reload", "yes")]
    [InlineData("proxy.listen", "port", "8080")]
    [InlineData("observability", "log_level", "verbose")]
    [InlineData("observability.tracing", "protocol", "zipkin")]
    [InlineData("backends", "transport", "sse")]
    [InlineData("backends.retry", "max_retries", 1.5)]
    public void A_wrong_type_or_value_fails_both_check_and_the_schema(string tablePath, string key, object value)
    {
        var tree = Tree(EveryTable);
        var table = Find(tree, tablePath)!;
        table.Entries[key] = new TomlScalar(table.Line, value);

        Assert.Contains(ReadErrors(tree), e => e.Key.EndsWith(key, StringComparison.Ordinal));
        Assert.False(Validate(ToJson(tree)).IsValid);
    }

    [Fact]
    public void Enum_keys_take_any_case_like_the_reader()
    {
        var tree = Tree(EveryTable);
        Find(tree, "backends")!.Entries["transport"] = new TomlScalar(1, "HTTP");
        Assert.DoesNotContain(ReadErrors(tree), e => e.Key.EndsWith("transport", StringComparison.Ordinal));
        Assert.True(Validate(ToJson(tree)).IsValid);
    }

    private static TomlTableNode Tree(string toml)
    {
        var doc = SyntaxParser.Parse(toml, "mcp-proxy.toml", validate: true);
        Assert.False(doc.HasErrors, string.Join("\n", doc.Diagnostics));
        return TomlTreeBuilder.Build(doc);
    }

    /// <summary>What <c>--check</c> reports for the tree (environment variables all set, so <c>${VAR}</c> expands).</summary>
    private static List<ConfigError> ReadErrors(TomlTableNode tree)
    {
        var errors = new ConfigErrors(name => "value-of-" + name, Path.Combine(TestPaths.RepoRoot, "mcp-proxy.toml"));
        new ConfigReader(errors).Read(tree);
        return errors.Errors;
    }

    /// <summary>The first table at a dotted path (through every entry of an array of tables).</summary>
    private static TomlTableNode? Find(TomlTableNode node, string path)
    {
        if (path.Length == 0)
        {
            return node;
        }

        var dot = path.IndexOf('.', StringComparison.Ordinal);
        var (part, rest) = dot < 0 ? (path, "") : (path[..dot], path[(dot + 1)..]);
        return node.Entries.GetValueOrDefault(part) switch
        {
            TomlTableNode t => Find(t, rest),
            TomlArrayNode array => array.Items.OfType<TomlTableNode>().Select(t => Find(t, rest)).FirstOrDefault(t => t is not null),
            _ => null,
        };
    }

    /// <summary>TOML as JSON, as a TOML language server hands it to the schema.</summary>
    private static JsonNode? ToJson(TomlNode node) => node switch
    {
        TomlTableNode table => new JsonObject(table.Entries.Select(e => KeyValuePair.Create(e.Key, ToJson(e.Value)))),
        TomlArrayNode array => new JsonArray([.. array.Items.Select(ToJson)]),
        TomlScalar { Value: string s } => s,
        TomlScalar { Value: long l } => l,
        TomlScalar { Value: double d } => d,
        TomlScalar { Value: bool b } => b,
        _ => throw new InvalidOperationException(node.Describe()),
    };

    private static EvaluationResults Validate(JsonNode? instance)
    {
        var schema = JsonSchema.FromText(File.Exists(SchemaPath) ? File.ReadAllText(SchemaPath) : ConfigSchema.Generate(), new BuildOptions { SchemaRegistry = new SchemaRegistry() });
        using var doc = JsonDocument.Parse(instance!.ToJsonString());
        return schema.Evaluate(doc.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
    }

    private static string Describe(EvaluationResults results) =>
        string.Join("\n", (results.Details ?? []).Where(d => d.Errors is { Count: > 0 }).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Key}: {e.Value}")));

    private static JsonNode TableSchema(JsonNode schema, string path)
    {
        var node = schema;
        foreach (var part in path.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            node = node["properties"]![part]!;
            if ((string?)node["type"] == "array")
            {
                node = node["items"]!;
            }
        }

        return node;
    }

    /// <summary>Paths of every table object (one with <c>properties</c>) in the schema.</summary>
    private static IEnumerable<string> SchemaTables(JsonNode node, string path)
    {
        if ((string?)node["type"] == "array" && node["items"] is { } items)
        {
            node = items;
        }

        if (node["properties"] is not JsonObject properties)
        {
            yield break;
        }

        yield return path;
        foreach (var (key, child) in properties)
        {
            foreach (var nested in SchemaTables(child!, path.Length == 0 ? key : path + "." + key))
            {
                yield return nested;
            }
        }
    }
}
