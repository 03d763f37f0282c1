using System.Net;
using System.Text.Json.Nodes;
using McpProxy.Tests.Infrastructure;
using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Security;

/// <summary>
/// DNS-rebinding protection beyond loopback: an attacker's page rebound to the proxy's address sends its own name in
/// both <c>Host</c> and <c>Origin</c>, so the <c>Host</c> header can never make an <c>Origin</c> trusted.
/// </summary>
public sealed class DnsRebindingTests
{
    private static CancellationToken Ct => TestContext.Timeout(60);

    /// <summary>Sends an initialize to the proxy's loopback port with the given Origin and Host; returns the status.</summary>
    private static async Task<HttpStatusCode> InitializeAsync(ProxyHost proxy, string? origin, string? host = null)
    {
        using var http = new HttpClient();
        var endpoint = new Uri($"http://127.0.0.1:{proxy.BaseAddress.Port}/mcp");
        using var request = InitializeRequest(endpoint, origin: origin, host: host);
        using var response = await http.SendAsync(request, Ct);
        if (response.StatusCode == HttpStatusCode.Forbidden)
        {
            var error = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!["error"]!;
            Assert.Equal($"Origin '{origin}' is not allowed (add it to [security] allowed_origins).", (string?)error["message"]);
        }

        return response.StatusCode;
    }

    [Fact]
    public async Task Listening_beyond_loopback_only_allowed_origins_pass()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync($"""
            [proxy]
            name = "test-proxy"
            [proxy.listen]
            host = "0.0.0.0"
            port = 0

            [security]
            allowed_origins = ["https://app.example.com"]

            {backend.Backend("b")}
            """);
        var port = proxy.BaseAddress.Port;

        // The rebinding attack: evil.example resolves to this machine; the page's Origin equals the request's Host.
        Assert.Equal(HttpStatusCode.Forbidden, await InitializeAsync(proxy, $"http://evil.example:{port}", host: $"evil.example:{port}"));
        // "Same origin" by the Host header is no proof either, whatever the name.
        Assert.Equal(HttpStatusCode.Forbidden, await InitializeAsync(proxy, $"http://127.0.0.1:{port}"));
        // Loopback origins are not trusted when the proxy serves the network: the page may be on the caller's machine.
        Assert.Equal(HttpStatusCode.Forbidden, await InitializeAsync(proxy, "http://localhost:3000"));

        Assert.Equal(HttpStatusCode.OK, await InitializeAsync(proxy, "https://app.example.com"));
        Assert.Equal(HttpStatusCode.OK, await InitializeAsync(proxy, "https://app.example.com", host: $"evil.example:{port}"));
        Assert.Equal(HttpStatusCode.OK, await InitializeAsync(proxy, null, host: $"evil.example:{port}")); // no Origin: not a browser
    }

    [Fact]
    public async Task Listening_beyond_loopback_an_allowed_host_does_not_make_its_origins_trusted()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync($"""
            [proxy]
            name = "test-proxy"
            [proxy.listen]
            host = "0.0.0.0"
            port = 0

            [security]
            allowed_hosts = ["mcp.example.com", "127.0.0.1"]

            {backend.Backend("b")}
            """);
        var port = proxy.BaseAddress.Port;

        // Another site on the same name (or another port of it) is not the operator's declared browser client.
        Assert.Equal(HttpStatusCode.Forbidden, await InitializeAsync(proxy, "https://mcp.example.com", host: "mcp.example.com"));
        Assert.Equal(HttpStatusCode.Forbidden, await InitializeAsync(proxy, $"http://127.0.0.1:{port}"));
        Assert.Equal(HttpStatusCode.OK, await InitializeAsync(proxy, null, host: "mcp.example.com"));
    }

    [Fact]
    public async Task On_loopback_with_any_host_allowed_a_rebound_origin_is_still_refused()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync($"""
            [security]
            allowed_hosts = ["*"]

            {backend.Backend("b")}
            """);
        var port = proxy.BaseAddress.Port;

        Assert.Equal(HttpStatusCode.Forbidden, await InitializeAsync(proxy, $"http://evil.example:{port}", host: $"evil.example:{port}"));
        // Local pages keep working on a loopback proxy.
        Assert.Equal(HttpStatusCode.OK, await InitializeAsync(proxy, "http://localhost:3000", host: $"evil.example:{port}"));
        Assert.Equal(HttpStatusCode.OK, await InitializeAsync(proxy, $"http://127.0.0.1:{port}"));
        Assert.Equal(HttpStatusCode.OK, await InitializeAsync(proxy, "http://[::1]:8080"));
    }
}
