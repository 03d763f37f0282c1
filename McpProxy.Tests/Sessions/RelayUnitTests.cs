using System.Text.Json.Nodes;
using McpProxy.Eras;
using McpProxy.Sessions;
using McpProxy.Security;
using McpProxy.Mirroring;
using McpProxy.Routing;

namespace McpProxy.Tests.Sessions;

/// <summary>The pure rules behind the relay: which <c>_meta</c> keys a backend gets.</summary>
public sealed class RelayUnitTests
{
    [Theory]
    [InlineData("io.modelcontextprotocol/related-task", true)]
    [InlineData("modelcontextprotocol.io/anything", true)]
    [InlineData("api.modelcontextprotocol.org/x", true)]
    [InlineData("dev.mcp/x", true)]
    [InlineData("tools.MCP.com/x", true)]
    [InlineData("example.com/x", false)]
    [InlineData("mcpx.dev/x", false)]
    [InlineData("custom", false)]
    [InlineData("traceparent", false)]
    [InlineData("/mcp", false)]
    public void Reserved_meta_prefixes_are_those_with_a_modelcontextprotocol_or_mcp_label(string key, bool reserved) =>
        Assert.Equal(reserved, CallerMeta.IsReserved(key));

    [Fact]
    public void Forwarded_meta_drops_the_progress_token_and_reserved_keys_and_keeps_the_rest()
    {
        var meta = new JsonObject
        {
            ["progressToken"] = "mcp-proxy-1",
            ["io.modelcontextprotocol/related-task"] = new JsonObject { ["taskId"] = "t" },
            ["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ["example.com/tenant"] = new JsonObject { ["id"] = 7 },
        };

        var forwarded = CallerMeta.Forwarded(meta)!;

        Assert.Equal(["traceparent", "example.com/tenant"], forwarded.Select(p => p.Key));
        Assert.Equal(7, (int)forwarded["example.com/tenant"]!["id"]!);
        Assert.NotSame(meta["example.com/tenant"], forwarded["example.com/tenant"]); // a copy: the caller's request is untouched
        Assert.Equal(4, meta.Count);
        Assert.Null(CallerMeta.Forwarded(new JsonObject { ["progressToken"] = 1 }));
        Assert.Null(CallerMeta.Forwarded(null));
    }
}
