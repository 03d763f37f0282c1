using McpProxy.Tests.Infrastructure;
using static McpProxy.Tests.Infrastructure.TestPaths;

namespace McpProxy.Tests.Routing;

/// <summary>
/// One proxy in front of four real backends: the sample over stdio (with aliases, filters and injection) and over
/// HTTP (with an allowlist), and the npm reference servers server-everything and server-memory over stdio.
/// </summary>
public sealed class AggregationFixture : IAsyncLifetime
{
    internal SampleHttpHost SampleHttp { get; private set; } = null!;
    internal ProxyHost Proxy { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        SampleHttp = await SampleHttpHost.StartAsync();
        var toml = $$"""
            [proxy]
            name = "agg-proxy"
            version = "9.9.9"
            instructions = "Aggregated test proxy."
            [proxy.listen]
            port = 0

            {{SampleStdioBackend("alpha")}}
            hide_tools = ["fail"]
            hide_resources = ["sample://hidden"]
            [[backends.aliases]]
            from = "echo"
            to = "say"
            [backends.default_args]
            injected_default = 1
            [[backends.inject_args]]
            tool = "echo_args"
            args = { forced = true }
            overwrite = true
            [[backends.inject_args]]
            tool = "echo_args"
            args = { soft = "from-config" }

            {{SampleHttp.Backend("beta", "expose_tools = [\"echo\", \"add\", \"whoami\"]\nexpose_prompts = [\"nothing-matches\"]")}}

            [[backends]]
            name = "everything"
            transport = "stdio"
            command = "node"
            args = [{{Toml(EverythingServer)}}, "stdio"]

            [[backends]]
            name = "memory"
            transport = "stdio"
            command = "node"
            args = [{{Toml(MemoryServer)}}]
            [backends.env]
            MEMORY_FILE_PATH = {{Toml(Path.Combine(Path.GetTempPath(), $"mcp-proxy-memory-{Guid.NewGuid():N}.jsonl"))}}
            """;
        Proxy = await ProxyHost.StartAsync(toml);
    }

    public async Task DisposeAsync()
    {
        await Proxy.DisposeAsync();
        await SampleHttp.DisposeAsync();
    }
}
