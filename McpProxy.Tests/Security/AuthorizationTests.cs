using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using McpProxy.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Security;

/// <summary>RBAC, forward_auth, size limits, the admin guard, Origin validation and per-user cache isolation.</summary>
public sealed class AuthorizationTests
{
    private static CancellationToken Ct => TestContext.Timeout(60);

    internal const string Roles = """
        [[auth.roles]]
        name = "reader"
        allow_tools = ["b/echo", "b/add", "b/whoami"]
        allow_prompts = ["b/none_*"]
        deny_resources = ["b/sample://info", "b/sample://items/"]

        [[auth.roles]]
        name = "admin"

        [auth.role_mapping]
        claim = "scope"
        mapping = { "mcp:read" = "reader", "mcp:admin" = "admin" }
        """;

    [Fact]
    public async Task A_session_belongs_to_the_user_who_opened_it()
    {
        await using var issuer = await JwtIssuer.StartAsync();
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync($"""
            {issuer.AuthToml(Roles)}

            {backend.Backend("b")}
            """);
        using var http = new HttpClient();

        using var init = await http.SendAsync(InitializeRequest(proxy.McpEndpoint, issuer.Token("rita", scope: "mcp:read")), Ct);
        var session = init.Headers.GetValues("Mcp-Session-Id").Single();

        // Another valid caller (with more rights, even) who learned the session id may not use that session.
        using var list = new HttpRequestMessage(HttpMethod.Post, proxy.McpEndpoint)
        {
            Content = new StringContent("""{"jsonrpc":"2.0","id":2,"method":"tools/list"}""", Encoding.UTF8, "application/json"),
        };
        list.Headers.Accept.ParseAdd("application/json, text/event-stream");
        list.Headers.Authorization = new AuthenticationHeaderValue("Bearer", issuer.Token("adam", scope: "mcp:admin"));
        list.Headers.Add("Mcp-Session-Id", session);
        using var hijack = await http.SendAsync(list, Ct);
        Assert.Equal(HttpStatusCode.Forbidden, hijack.StatusCode);
        Assert.Contains("does not match the user who initiated the session", await hijack.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);

        // Nor a call, which the fast path would answer for the session's owner: the SDK refuses it, the backend never sees it.
        const string Call = """{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"b/echo","arguments":{"message":"x"}}}""";
        using var stolen = SessionPost(proxy.McpEndpoint, session, Call);
        stolen.Headers.Authorization = new AuthenticationHeaderValue("Bearer", issuer.Token("adam", scope: "mcp:admin"));
        using var hijackedCall = await http.SendAsync(stolen, Ct);
        Assert.Equal(HttpStatusCode.Forbidden, hijackedCall.StatusCode);
        Assert.Equal(0, backend.ToolCalls);

        using var own = SessionPost(proxy.McpEndpoint, session, Call);
        own.Headers.Authorization = new AuthenticationHeaderValue("Bearer", issuer.Token("rita", scope: "mcp:read"));
        using var ownCall = await http.SendAsync(own, Ct);
        Assert.Equal(HttpStatusCode.OK, ownCall.StatusCode);
        Assert.Equal(1, backend.ToolCalls);
        Assert.Equal(1, proxy.Services.GetRequiredService<McpProxy.Backends.BackendRegistry>().Backends.Single().FastPathCalls);
    }

    [Fact]
    public async Task Default_role_covers_unmapped_callers()
    {
        await using var issuer = await JwtIssuer.StartAsync();
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync($"""
            {issuer.AuthToml("default_role = \"reader\"\n" + Roles)}

            {backend.Backend("b")}
            """);

        await using var client = await proxy.ConnectAsync(cancellationToken: Ct, bearerToken: issuer.Token("nobody"));
        Assert.Equal(3, (await client.ListToolsAsync(cancellationToken: Ct)).Count);
    }

    [Fact]
    public async Task Forward_auth_sends_the_callers_token_and_bearer_token_the_static_one()
    {
        await using var issuer = await JwtIssuer.StartAsync();
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync($"""
            {issuer.AuthToml()}

            {backend.Backend("fwd", "forward_auth = true\nbearer_token = \"static-backend-token\"")}
            {backend.Backend("static", "bearer_token = \"static-backend-token\"")}
            {backend.Backend("plain")}
            """);

        var token = issuer.Token("alice");
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct, bearerToken: token);
        string? Authorization(CallToolResult r) => (string?)JsonNode.Parse(Text(r))!["authorization"];

        Assert.Equal("Bearer " + token, Authorization(await client.CallToolAsync("fwd/whoami", cancellationToken: Ct)));
        Assert.Equal("Bearer static-backend-token", Authorization(await client.CallToolAsync("static/whoami", cancellationToken: Ct)));
        Assert.Null(Authorization(await client.CallToolAsync("plain/whoami", cancellationToken: Ct)));

        // Another caller's call carries that caller's token, not the first one's.
        var other = issuer.Token("bob");
        await using var second = await proxy.ConnectAsync(cancellationToken: Ct, bearerToken: other);
        Assert.Equal("Bearer " + other, Authorization(await second.CallToolAsync("fwd/whoami", cancellationToken: Ct)));
    }

    [Fact]
    public async Task Cached_results_are_never_served_to_another_user()
    {
        // Against the real Redis the topology uses: entries of both users live in it side by side.
        await using var redis = await RedisServer.StartAsync();
        await using var issuer = await JwtIssuer.StartAsync();
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync($"""
            {issuer.AuthToml()}

            {backend.Backend("b", "forward_auth = true\n[backends.cache]\ntool_ttl_seconds = 60\ncache_tools = [\"whoami\"]")}
            """, configure: b => b.Configuration["ConnectionStrings:cache"] = redis.ConnectionString);

        var alice = issuer.Token("alice");
        var bob = issuer.Token("bob");
        await using var a = await proxy.ConnectAsync(cancellationToken: Ct, bearerToken: alice);
        await using var b = await proxy.ConnectAsync(cancellationToken: Ct, bearerToken: bob);
        string? Authorization(CallToolResult r) => (string?)JsonNode.Parse(Text(r))!["authorization"];

        Assert.Equal("Bearer " + alice, Authorization(await a.CallToolAsync("b/whoami", cancellationToken: Ct)));
        Assert.Equal("Bearer " + bob, Authorization(await b.CallToolAsync("b/whoami", cancellationToken: Ct)));
        Assert.Equal("Bearer " + alice, Authorization(await a.CallToolAsync("b/whoami", cancellationToken: Ct))); // alice's own entry
        Assert.Equal(2, backend.ToolCalls);

        await using var connection = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var server = connection.GetServer(connection.GetEndPoints().Single());
        await TestCalls.WaitUntil(() => server.Keys(pattern: "*mcp-proxy:b:*").Count() == 2); // one entry per user
    }

    [Fact]
    public async Task Oversized_arguments_and_bodies_are_refused_before_any_backend_call()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync("""
            [security]
            max_argument_size = 1024
            max_request_body = 65536

            """ + backend.Backend("b"));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);

        Assert.Equal(900, Text(await client.CallToolAsync("b/echo", Message(new string('x', 900)), cancellationToken: Ct)).Length);
        var refused = await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync("b/echo", Message(new string('x', 2000)), cancellationToken: Ct).AsTask());
        Assert.Equal(McpErrorCode.InvalidParams, refused.ErrorCode);
        Assert.Contains("exceed the limit of 1024 bytes ([security] max_argument_size)", refused.Message, StringComparison.Ordinal);
        Assert.Equal(1, backend.ToolCalls);

        // The HTTP body itself: 413 before it is parsed, whether its length is declared or only found out while reading.
        using var http = new HttpClient();
        var big = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"b/echo\",\"arguments\":{\"message\":\"" + new string('x', 200_000) + "\"}}}";
        foreach (var chunked in new[] { false, true })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, proxy.McpEndpoint) { Content = new StringContent(big, Encoding.UTF8, "application/json") };
            request.Headers.Accept.ParseAdd("application/json, text/event-stream");
            request.Headers.TransferEncodingChunked = chunked; // chunked: no Content-Length, the limit is hit while reading
            request.Headers.ExpectContinue = !chunked; // a declared length is refused before the body is sent
            using var response = await http.SendAsync(request, Ct);
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
            var error = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!["error"]!;
            Assert.Equal("The request body exceeds the limit of 65536 bytes ([security] max_request_body).", (string?)error["message"]);
            Assert.Equal(1, backend.ToolCalls);
        }

        // And the proxy keeps serving.
        Assert.Equal("still", Text(await client.CallToolAsync("b/echo", Message("still"), cancellationToken: Ct)));
    }

    [Fact]
    public async Task Admin_api_needs_credentials_while_health_stays_open()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync("""
            [auth]
            type = "bearer"
            tokens = ["client-token-1234567"]
            [security]
            admin_token = "admin-token-abcdefghijkl"
            [observability.metrics]
            enabled = true

            """ + backend.Backend("b"));
        using var http = new HttpClient { BaseAddress = proxy.BaseAddress };

        foreach (var path in new[] { "/admin/backends", "/admin/config", "/admin/cache/stats", "/admin/health", "/admin/metrics" })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(path, Ct)).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await Get(http, path, "admin-token-abcdefghijkl")).StatusCode);
            // A client token is not an admin credential (no [auth] admin_roles role): 403.
            Assert.Equal(HttpStatusCode.Forbidden, (await Get(http, path, "client-token-1234567")).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await Get(http, path, "admin-token-abcdefghijkX")).StatusCode);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, (await http.PostAsync("/admin/cache/clear", null, Ct)).StatusCode);
        foreach (var (token, reason) in new[] { ((string?)null, "a bearer token is required"), ("admin-token-abcdefghijkX", "the bearer token is not valid") })
        {
            using var refused = token is null ? await http.GetAsync("/admin/config", Ct) : await Get(http, "/admin/config", token);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.StartsWith("Bearer realm=\"mcp-proxy\"", refused.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
            Assert.Equal(reason, (string?)JsonNode.Parse(await refused.Content.ReadAsStringAsync(Ct))!["error_description"]);
        }

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/alive", Ct)).StatusCode);

        // The admin token opens the admin API only, not the MCP endpoint.
        await Assert.ThrowsAnyAsync<Exception>(() => proxy.ConnectAsync(cancellationToken: Ct, bearerToken: "admin-token-abcdefghijkl"));

        static Task<HttpResponseMessage> Get(HttpClient http, string path, string token)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            return http.SendAsync(request, Ct);
        }
    }

    [Fact]
    public async Task Without_credentials_configured_the_admin_api_answers_loopback_callers_only()
    {
        // A non-loopback address of this machine, so that a real connection comes from a non-loopback peer.
        var external = System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == System.Net.NetworkInformation.OperationalStatus.Up)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && !IPAddress.IsLoopback(a));
        Assert.True(external is not null, "this test needs a non-loopback IPv4 interface");

        await using var proxy = await ProxyHost.StartAsync("""
            [proxy]
            name = "test-proxy"
            [proxy.listen]
            host = "0.0.0.0"
            port = 0
            """);
        using var http = new HttpClient();
        var port = proxy.BaseAddress.Port;

        // Not a challenge (there is no authentication scheme to challenge with): 403 with the reason.
        using var remote = await http.GetAsync(new Uri($"http://{external}:{port}/admin/config"), Ct);
        Assert.Equal(HttpStatusCode.Forbidden, remote.StatusCode);
        Assert.Equal(
            "the admin API answers loopback callers only unless [auth] or [security] admin_token is configured",
            (string?)JsonNode.Parse(await remote.Content.ReadAsStringAsync(Ct))!["error_description"]);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri($"http://{external}:{port}/health"), Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri($"http://127.0.0.1:{port}/admin/config"), Ct)).StatusCode);
    }

    [Fact]
    public async Task Foreign_origins_are_refused_and_same_or_allowed_origins_pass()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync("""
            [security]
            allowed_origins = ["https://app.example.com"]

            """ + backend.Backend("b"));

        async Task<HttpStatusCode> InitializeFrom(string? origin)
        {
            using var http = new HttpClient();
            using var request = InitializeRequest(proxy.McpEndpoint, origin: origin);
            var response = await http.SendAsync(request, Ct);
            if (response.StatusCode == HttpStatusCode.Forbidden)
            {
                var error = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!["error"]!;
                Assert.Contains($"Origin '{origin}' is not allowed", (string?)error["message"], StringComparison.Ordinal);
            }

            return response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.Forbidden, await InitializeFrom("http://evil.example"));
        Assert.Equal(HttpStatusCode.Forbidden, await InitializeFrom("http://localhost.evil.example:" + proxy.BaseAddress.Port));
        Assert.Equal(HttpStatusCode.OK, await InitializeFrom("http://localhost:3000")); // a local tool: loopback origins pass on a loopback proxy
        Assert.Equal(HttpStatusCode.OK, await InitializeFrom(null));
        Assert.Equal(HttpStatusCode.OK, await InitializeFrom($"http://{proxy.BaseAddress.Authority}"));
        Assert.Equal(HttpStatusCode.OK, await InitializeFrom("https://app.example.com"));

        // DNS rebinding: the attacker's name resolves to 127.0.0.1, but Host (and Origin) still carry it.
        using var http = new HttpClient();
        using var rebound = InitializeRequest(
            proxy.McpEndpoint, origin: "http://evil.example:" + proxy.BaseAddress.Port, host: "evil.example:" + proxy.BaseAddress.Port);
        var response = await http.SendAsync(rebound, Ct);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("Host 'evil.example:", await response.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }
}
