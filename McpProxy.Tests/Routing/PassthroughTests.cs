using McpProxy.Configuration;
using McpProxy.Tests.Infrastructure;
using ModelContextProtocol;
using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Routing;

/// <summary><c>namespaced = false</c>: one backend exposed under its own names, next to namespaced ones.</summary>
public sealed class PassthroughTests
{
    private static CancellationToken Ct => TestContext.Timeout(60);

    [Fact]
    public async Task A_non_namespaced_backend_keeps_its_names_and_gets_what_no_other_backend_claims()
    {
        await using var a = await SampleHttpHost.StartAsync("--name", "a");
        await using var b = await SampleHttpHost.StartAsync("--name", "b");
        await using var proxy = await ProxyHost.StartAsync(
            a.Backend("front", "namespaced = false\nhide_tools = [\"fail\"]") + b.Backend("b"));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);

        var tools = (await client.ListToolsAsync(cancellationToken: Ct)).Select(t => t.Name).ToList();
        Assert.Contains("echo", tools);
        Assert.Contains("b/echo", tools);
        Assert.DoesNotContain("fail", tools);
        Assert.Equal("plain", Text(await client.CallToolAsync("echo", Message("plain"), cancellationToken: Ct)));
        Assert.Equal("prefixed", Text(await client.CallToolAsync("b/echo", Message("prefixed"), cancellationToken: Ct)));
        Assert.Equal(1, a.ToolCalls);
        Assert.Equal(1, b.ToolCalls);

        // Resources keep their URIs; reads route to the front backend.
        Assert.Contains(await client.ListResourcesAsync(cancellationToken: Ct), r => r.Uri == "sample://info");
        Assert.Equal("sample://info", Assert.Single((await client.ReadResourceAsync("sample://info", cancellationToken: Ct)).Contents).Uri);

        // A name nobody lists goes to the front backend, which answers as it would directly; a hidden one never does.
        var unknown = await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync("no_such_tool", cancellationToken: Ct).AsTask());
        Assert.Contains("Backend 'front'", unknown.Message, StringComparison.Ordinal);
        var hidden = await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync("fail", Message("x"), cancellationToken: Ct).AsTask());
        Assert.Equal("Unknown tool: 'fail'", hidden.Message[(hidden.Message.IndexOf("Unknown", StringComparison.Ordinal))..]);
        Assert.Equal(2, a.ToolCalls);
    }

    [Fact]
    public void Only_one_backend_may_be_non_namespaced()
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Parse("""
            [[backends]]
            name = "a"
            transport = "stdio"
            command = "x"
            namespaced = false

            [[backends]]
            name = "b"
            transport = "stdio"
            command = "x"
            namespaced = false
            """, "mcp-proxy.toml", _ => null));
        var error = Assert.Single(ex.Errors);
        Assert.Equal("b", error.Backend);
        Assert.Contains("only one backend may set namespaced = false (already 'a')", error.Message, StringComparison.Ordinal);
    }
}
