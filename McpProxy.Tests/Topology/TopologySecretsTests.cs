using McpProxy.AppHost;

namespace McpProxy.Tests.Topology;

public sealed class TopologySecretsTests
{
    [Fact]
    public void Required_variables_are_the_references_without_default_outside_comments_and_escapes()
    {
        const string toml = """
            url = "http://x/${HOST}/mcp"
            bearer_token = "${GITHUB_TOKEN}" # and ${GITHUB_TOKEN} again
            env = { A = "${WITH_DEFAULT:-x}", B = "$${ESCAPED}", C = "${SECOND}${THIRD}" }
            # bearer_token = "${COMMENTED_OUT}"
            """;

        Assert.Equal(["HOST", "GITHUB_TOKEN", "SECOND", "THIRD"], TopologySecrets.RequiredVariables(toml));
        Assert.Equal("github-token", TopologySecrets.ParameterName("GITHUB_TOKEN"));
    }

    [Fact]
    public void The_shipped_topology_config_needs_exactly_the_proxy_tokens()
    {
        // The deployed proxy is not an open endpoint: its [auth] token and its admin token are secret parameters.
        var toml = File.ReadAllText(Path.Combine(Infrastructure.TestPaths.RepoRoot, "McpProxy.AppHost", TopologyNames.ConfigFileName));
        Assert.Equal([TopologySecrets.ProxyToken, TopologySecrets.ProxyAdminToken], TopologySecrets.RequiredVariables(toml));
        Assert.Equal("mcp-proxy-token", TopologySecrets.ParameterName(TopologySecrets.ProxyToken));
        Assert.Equal("mcp-proxy-admin-token", TopologySecrets.ParameterName(TopologySecrets.ProxyAdminToken));

        // And the config the proxy reads from it has [auth] on, with the token from the environment variable.
        var config = McpProxy.Configuration.ConfigLoader.Parse(toml, "mcp-proxy.aspire.toml", name => name switch
        {
            TopologySecrets.ProxyToken => "client-token-from-azd",
            TopologySecrets.ProxyAdminToken => "admin-token-from-azd-0123",
            _ => null,
        });
        Assert.Equal(McpProxy.Configuration.AuthType.Bearer, config.Auth!.Type);
        Assert.Equal(["client-token-from-azd"], config.Auth.Tokens);
        Assert.Equal("admin-token-from-azd-0123", config.Security.AdminToken);
    }
}

public sealed class ContainerEngineTests
{
    [Fact]
    public void The_switch_wins_publishing_always_models_containers_and_a_missing_engine_means_executables()
    {
        Assert.False(ContainerEngine.ShouldUse("false", publishing: false, runtime: null));
        Assert.True(ContainerEngine.ShouldUse("true", publishing: false, runtime: "no-such-container-runtime"));
        Assert.True(ContainerEngine.ShouldUse("false", publishing: true, runtime: null));
        Assert.False(ContainerEngine.ShouldUse(null, publishing: false, runtime: "no-such-container-runtime"));
    }
}
