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
    public void The_shipped_topology_config_needs_no_secret_to_run()
    {
        var toml = File.ReadAllText(Path.Combine(Infrastructure.TestPaths.RepoRoot, "McpProxy.AppHost", TopologyNames.ConfigFileName));
        Assert.Empty(TopologySecrets.RequiredVariables(toml));
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
