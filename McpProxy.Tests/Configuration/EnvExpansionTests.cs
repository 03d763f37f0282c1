using System.Text.Json.Nodes;
using McpProxy.Configuration;
using Xunit;
using static McpProxy.Tests.Configuration.ConfigTestSupport;

namespace McpProxy.Tests.Configuration;

/// <summary><c>${VAR}</c>, <c>${VAR:-default}</c> and <c>$${</c> in every string value, never in keys.</summary>
public sealed class EnvExpansionTests
{
    private static readonly Func<string, string?> TestEnv = Env(("SET", "value"), ("EMPTY", ""), ("OTHER", "other"), ("HOST", "example.com"));

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("${SET}", "value")]
    [InlineData("a-${SET}-b", "a-value-b")]
    [InlineData("${SET}${OTHER}", "valueother")]
    [InlineData("${EMPTY}", "")]
    [InlineData("${UNSET:-fallback}", "fallback")]
    [InlineData("${EMPTY:-fallback}", "fallback")]
    [InlineData("${SET:-fallback}", "value")]
    [InlineData("${UNSET:-}", "")]
    [InlineData("${UNSET:-a b:c}", "a b:c")]
    [InlineData("${UNSET:-${OTHER}}", "other")]
    [InlineData("${UNSET:-${ALSO_UNSET:-deep}}", "deep")]
    [InlineData("${UNSET:-$${x}}", "${x}")]
    [InlineData("$${SET}", "${SET}")]
    [InlineData("$${", "${")]
    [InlineData("cost: $5", "cost: $5")]
    [InlineData("$$", "$$")]
    [InlineData("$", "$")]
    [InlineData("$SET", "$SET")]
    [InlineData("$$${SET}", "$${SET}")]
    public void Expands(string input, string expected)
    {
        var problems = new List<string>();
        Assert.Equal(expected, EnvExpander.Expand(input, TestEnv, problems));
        Assert.Empty(problems);
    }

    [Theory]
    [InlineData("${UNSET}", "environment variable 'UNSET' is not set")]
    [InlineData("x ${UNSET", "unterminated '${'")]
    [InlineData("${}", "invalid environment reference")]
    [InlineData("${1ABC}", "invalid environment reference")]
    [InlineData("${A-B}", "invalid environment reference")]
    [InlineData("${UNSET:-${ALSO_UNSET}}", "environment variable 'ALSO_UNSET' is not set")]
    public void Reports(string input, string problem)
    {
        var problems = new List<string>();
        Assert.Null(EnvExpander.Expand(input, TestEnv, problems));
        Assert.Contains(problem, Assert.Single(problems));
    }

    [Fact]
    public void Every_unset_variable_in_a_value_is_reported()
    {
        var problems = new List<string>();
        Assert.Null(EnvExpander.Expand("${A}/${B}", TestEnv, problems));
        Assert.Equal(2, problems.Count);
    }

    [Fact]
    public void Every_string_value_is_expanded_and_no_key_is()
    {
        var config = Parse("""
            [proxy]
            name = "${SET}"
            instructions = "hello ${OTHER}"
            [proxy.listen]
            host = "${LISTEN_HOST:-0.0.0.0}"

            [[backends]]
            name = "stdio"
            transport = "stdio"
            command = "${SET}"
            args = ["--a", "${SET}", "$${LITERAL}"]
            cwd = "${OTHER}"
            [backends.env]
            TOKEN = "${SET}"
            "${KEY}" = "keys are not expanded"
            [backends.default_args]
            who = "${OTHER}"
            nested = { list = ["${SET}"] }
            [[backends.aliases]]
            from = "${SET}"
            to = "${OTHER}"
            [[backends.inject_args]]
            tool = "${SET}"
            args = { key = "${OTHER}" }

            [[backends]]
            name = "http"
            transport = "http"
            url = "https://${HOST}/mcp"
            bearer_token = "${SET}"
            expose_tools = ["${OTHER}"]
            mirror_of = "${MIRROR:-stdio}"

            [auth]
            type = "jwt"
            issuer = "https://${HOST}"
            audience = "${SET}"
            jwks_uri = "https://${HOST}/jwks"
            [[auth.roles]]
            name = "${SET}"
            allow_tools = ["${OTHER}"]
            [auth.role_mapping]
            claim = "${OTHER}"
            mapping = { "${SCOPE}" = "${SET}" }

            [observability]
            log_level = "${LOG_LEVEL:-warn}"
            [observability.tracing]
            endpoint = "http://${HOST}:4317"
            service_name = "${SET}"
            """, TestEnv);

        Assert.Equal("value", config.Proxy.Name);
        Assert.Equal("hello other", config.Proxy.Instructions);
        Assert.Equal("0.0.0.0", config.Proxy.Listen.Host);

        var stdio = config.Backends[0];
        Assert.Equal("value", stdio.Command);
        Assert.Equal(["--a", "value", "${LITERAL}"], stdio.Args);
        Assert.Equal("other", stdio.Cwd);
        Assert.Equal("value", stdio.Env["TOKEN"]);
        Assert.Equal("keys are not expanded", stdio.Env["${KEY}"]);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"who":"other","nested":{"list":["value"]}}"""), stdio.DefaultArgs));
        Assert.Equal([new AliasConfig("value", "other")], stdio.Aliases);
        Assert.Equal("value", stdio.InjectArgs[0].Tool);
        Assert.Equal("other", (string?)stdio.InjectArgs[0].Args["key"]);

        var http = config.Backends[1];
        Assert.Equal("https://example.com/mcp", http.Url);
        Assert.Equal("value", http.BearerToken);
        Assert.Equal(["other"], http.ExposeTools!);
        Assert.Equal("stdio", http.MirrorOf);

        var auth = config.Auth!;
        Assert.Equal("https://example.com", auth.Issuer);
        Assert.Equal("value", auth.Audience);
        Assert.Equal("https://example.com/jwks", auth.JwksUri);
        Assert.Equal("value", auth.Roles[0].Name);
        Assert.Equal(["other"], auth.Roles[0].AllowTools);
        Assert.Equal("other", auth.RoleMapping!.Claim);
        Assert.Equal("value", auth.RoleMapping.Mapping["${SCOPE}"]);

        Assert.Equal("warn", config.Observability.LogLevel);
        Assert.Equal("http://example.com:4317", config.Observability.Tracing.Endpoint);
        Assert.Equal("value", config.Observability.Tracing.ServiceName);
    }

    [Fact]
    public void Bearer_tokens_are_expanded()
    {
        var config = Parse("""
            [auth]
            type = "bearer"
            tokens = ["${SET}", "${UNSET:-fallback}"]
            """, TestEnv);

        Assert.Equal(["value", "fallback"], config.Auth!.Tokens);
    }

    [Fact]
    public void An_unset_variable_is_an_error_naming_key_backend_line_and_variable()
    {
        var toml = """
            [[backends]]
            name = "remote"
            transport = "http"
            url = "http://localhost/mcp"
            bearer_token = "${BACKEND_TOKEN}"
            """;

        var error = Assert.Single(Errors(toml, TestEnv));

        Assert.Equal("backends.bearer_token", error.Key);
        Assert.Equal("remote", error.Backend);
        Assert.Equal(5, error.Line);
        Assert.Contains("'BACKEND_TOKEN'", error.Message);
        Assert.Equal("mcp-proxy.toml:5: backends[remote].bearer_token: environment variable 'BACKEND_TOKEN' is not set (write ${BACKEND_TOKEN:-default} to give a default)", error.ToString());
    }

    [Fact]
    public void Unset_variables_inside_arrays_and_tables_are_reported_at_their_own_line()
    {
        var toml = """
            [[backends]]
            name = "a"
            transport = "stdio"
            command = "x"
            args = [
              "ok",
              "${IN_ARRAY}",
            ]
            env = { E = "${IN_ENV}" }
            [backends.default_args]
            deep = { deeper = ["${IN_JSON}"] }
            [[backends.inject_args]]
            tool = "t"
            args = { k = "${IN_INJECT}" }
            [auth]
            type = "bearer"
            tokens = ["${IN_TOKENS}"]
            """;

        var errors = Errors(toml, TestEnv);

        Assert.Collection(
            errors,
            e => AssertError(e, "backends.args[1]", "a", 7, "IN_ARRAY"),
            e => AssertError(e, "backends.env.E", "a", 9, "IN_ENV"),
            e => AssertError(e, "backends.default_args.deep.deeper[0]", "a", 11, "IN_JSON"),
            e => AssertError(e, "backends.inject_args[0].args.k", "a", 14, "IN_INJECT"),
            e => AssertError(e, "auth.tokens[0]", null, 17, "IN_TOKENS"));
    }

    [Fact]
    public void An_unset_variable_is_reported_once_not_again_as_a_missing_or_invalid_value()
    {
        var error = Assert.Single(Errors("""
            [[backends]]
            name = "a"
            transport = "http"
            url = "${URL}"
            """, TestEnv));

        AssertError(error, "backends.url", "a", 4, "URL");
    }

    [Fact]
    public void The_process_environment_is_the_default()
    {
        var expected = Environment.GetEnvironmentVariable("PATH") ?? "none";
        Assert.Equal(expected, ConfigLoader.Parse("[proxy]\nname = \"${PATH:-none}\"").Proxy.Name);
    }

    private static void AssertError(ConfigError error, string key, string? backend, int line, string variable)
    {
        Assert.Equal(key, error.Key);
        Assert.Equal(backend, error.Backend);
        Assert.Equal(line, error.Line);
        Assert.Contains($"'{variable}'", error.Message);
    }
}
