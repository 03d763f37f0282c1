using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using McpProxy.Tests.Infrastructure;
using static McpProxy.Tests.Eras.ModernHttp;

namespace McpProxy.Tests.Eras;

/// <summary>
/// Issue 15 item 5 through the real endpoint: the response cache follows the backend's <c>cacheScope</c>/<c>ttlMs</c>;
/// the proxy's aggregated lists carry hints of their own (private when the caller's role filtered them). And a modern
/// <c>tools/call</c>'s <c>Mcp-Param-*</c> headers are checked against the backend tool's <c>x-mcp-header</c> arguments.
/// </summary>
public sealed class ModernCachingTests
{
    private static CancellationToken Ct => TestContext.Timeout(60);

    private const string Alice = "token-alice-1234567";
    private const string Bob = "token-bob-123456789";

    private static string Auth(string extra = "") => $"""
        [auth]
        type = "bearer"
        tokens = ["{Alice}", "{Bob}"]
        {extra}

        """;

    private static HttpClient Caller(string token)
    {
        var http = new HttpClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    private static async Task<string> ReadAsync(HttpClient http, Uri endpoint, string uri)
    {
        var reply = await PostAsync(http, endpoint, "resources/read", new() { ["uri"] = uri }, uri, Ct);
        return (string)reply.Result["contents"]![0]!["text"]!;
    }

    [Fact]
    public async Task Public_results_are_shared_private_ones_kept_per_caller_and_ttl_zero_ones_never_stored()
    {
        await using var backend = await HintedBackend.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(Auth() + backend.Backend("h", "[backends.cache]\nresource_ttl_seconds = 60\n"));
        using var alice = Caller(Alice);
        using var bob = Caller(Bob);

        // Public: Alice's read is served to Bob from the cache.
        Assert.Equal("read 1", await ReadAsync(alice, proxy.McpEndpoint, "h/hint://public"));
        Assert.Equal("read 1", await ReadAsync(bob, proxy.McpEndpoint, "h/hint://public"));
        Assert.Equal(1, backend.Reads["hint://public"]);

        // Private: each caller has an entry of its own.
        Assert.Equal("read 1", await ReadAsync(alice, proxy.McpEndpoint, "h/hint://private"));
        Assert.Equal("read 1", await ReadAsync(alice, proxy.McpEndpoint, "h/hint://private"));
        Assert.Equal("read 2", await ReadAsync(bob, proxy.McpEndpoint, "h/hint://private"));
        Assert.Equal(2, backend.Reads["hint://private"]);

        // ttlMs 0: never stored, even for the same caller.
        Assert.Equal("read 1", await ReadAsync(alice, proxy.McpEndpoint, "h/hint://zero"));
        Assert.Equal("read 2", await ReadAsync(alice, proxy.McpEndpoint, "h/hint://zero"));
    }

    [Fact]
    public async Task Aggregated_lists_are_private_when_the_callers_role_filtered_them_and_public_otherwise()
    {
        await using var backend = await HintedBackend.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(Auth("""
            default_role = "reader"
            [[auth.roles]]
            name = "reader"
            deny_resources = ["h/hint://private", "h/hint://zero"]
            """) + backend.Backend("h"));
        using var alice = Caller(Alice);

        var resources = await PostAsync(alice, proxy.McpEndpoint, "resources/list", null, null, Ct);
        Assert.Single(resources.Result["resources"]!.AsArray());
        Assert.Equal("private", (string?)resources.Result["cacheScope"]);
        Assert.Equal(60_000, (long)resources.Result["ttlMs"]!);

        var tools = await PostAsync(alice, proxy.McpEndpoint, "tools/list", null, null, Ct);
        Assert.Equal("public", (string?)tools.Result["cacheScope"]);
    }

    [Fact]
    public async Task A_modern_call_must_mirror_its_x_mcp_header_arguments_in_Mcp_Param_headers()
    {
        await using var backend = await HintedBackend.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(backend.Backend("h"));
        using var http = new HttpClient();

        HttpRequestMessage Call(JsonObject arguments, params (string Name, string Value)[] headers)
        {
            var request = Request(proxy.McpEndpoint, "tools/call", new() { ["name"] = "h/tagged", ["arguments"] = arguments }, "h/tagged");
            foreach (var (name, value) in headers)
            {
                request.Headers.Add(name, value);
            }

            return request;
        }

        var ok = await SendAsync(http, Call(new() { ["region"] = "eu-west", ["count"] = 3 }, ("Mcp-Param-Region", "eu-west"), ("Mcp-Param-Count", "3")), Ct);
        Assert.Equal("eu-west", (string?)ok.Result["content"]![0]!["text"]);

        var encoded = await SendAsync(http, Call(new() { ["region"] = "eu-west" }, ("Mcp-Param-Region", "=?base64?ZXUtd2VzdA==?=")), Ct);
        Assert.Equal("eu-west", (string?)encoded.Result["content"]![0]!["text"]);

        foreach (var (arguments, headers) in new (JsonObject, (string, string)[])[]
        {
            (new() { ["region"] = "eu-west" }, []),                                     // header missing
            (new() { ["region"] = "eu-west" }, [("Mcp-Param-Region", "us-east")]),      // header differs
            (new(), [("Mcp-Param-Region", "eu-west")]),                                 // header without argument
            (new() { ["count"] = 3 }, [("Mcp-Param-Count", "4")]),                      // number differs
        })
        {
            var refused = await SendAsync(http, Call(arguments, headers), Ct);
            Assert.Equal((HttpStatusCode.BadRequest, -32020), (refused.Status, refused.ErrorCode));
        }

        Assert.Equal(2, backend.ToolCalls); // only the two calls whose headers matched
    }
}
