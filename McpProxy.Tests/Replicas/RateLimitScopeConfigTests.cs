using McpProxy.Configuration;

namespace McpProxy.Tests.Replicas;

/// <summary><c>[backends.rate_limit] scope</c>: "replica" (the default, as before) or "global"; anything else is a config error.</summary>
public sealed class RateLimitScopeConfigTests
{
    private static string Toml(string scope) => $"""
        [[backends]]
        name = "r"
        transport = "http"
        url = "http://127.0.0.1:1/mcp"
        [backends.rate_limit]
        requests = 5
        {scope}
        """;

    [Theory]
    [InlineData("", RateLimitScope.Replica)]
    [InlineData("scope = \"replica\"", RateLimitScope.Replica)]
    [InlineData("scope = \"global\"", RateLimitScope.Global)]
    [InlineData("scope = \"Global\"", RateLimitScope.Global)]
    public void Scope_is_read(string line, RateLimitScope expected) =>
        Assert.Equal(expected, ConfigLoader.Parse(Toml(line), null, _ => null).Backends.Single().RateLimit!.Scope);

    [Fact]
    public void An_unknown_scope_is_refused_naming_the_choices()
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(Toml("scope = \"fleet\""), null, _ => null));
        Assert.Contains("unknown scope 'fleet' (expected \"replica\" or \"global\")", Assert.Single(ex.Errors).ToString(), StringComparison.Ordinal);
    }
}
