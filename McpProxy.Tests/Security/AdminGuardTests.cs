using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using McpProxy.Tests.Infrastructure;

namespace McpProxy.Tests.Security;

/// <summary>
/// The admin API's guard through the real endpoint: with <c>[auth]</c>, only callers in an <c>[auth] admin_roles</c>
/// role or holding <c>[security] admin_token</c> pass; without credentials configured, only direct loopback callers
/// (not requests relayed by a reverse proxy on the same host).
/// </summary>
public sealed class AdminGuardTests
{
    private static CancellationToken Ct => TestContext.Timeout(60);

    private const string AdminToken = "admin-token-abcdefghijkl";

    private static readonly string[] AdminPaths = ["/admin/backends", "/admin/config", "/admin/cache/stats", "/admin/health", "/admin/metrics"];

    private const string Roles = """
        admin_roles = ["operator"]

        [[auth.roles]]
        name = "reader"
        allow_tools = ["b/echo"]

        [[auth.roles]]
        name = "operator"

        [auth.role_mapping]
        claim = "scope"
        mapping = { "mcp:read" = "reader", "mcp:operate" = "operator" }
        """;

    private static async Task<HttpResponseMessage> GetAsync(HttpClient http, string path, string? token = null, IReadOnlyDictionary<string, string>? headers = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        foreach (var (name, value) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await http.SendAsync(request, Ct);
    }

    private static async Task AssertForbiddenAsync(HttpResponseMessage response, string reason)
    {
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!;
        Assert.Equal(reason, (string?)body["error_description"]);
    }

    private const string NotAnAdmin = "the admin API needs a caller in an [auth] admin_roles role or the [security] admin_token";

    [Fact]
    public async Task With_jwt_auth_only_admin_roles_and_the_admin_token_open_the_admin_api()
    {
        await using var issuer = await JwtIssuer.StartAsync();
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync($"""
            {issuer.AuthToml(Roles)}

            [security]
            admin_token = "{AdminToken}"
            [observability.metrics]
            enabled = true

            {backend.Backend("b")}
            """);
        using var http = new HttpClient { BaseAddress = proxy.BaseAddress };

        var reader = issuer.Token("rita", scope: "mcp:read");
        var unmapped = issuer.Token("eve", scope: "openid profile");
        var operatorToken = issuer.Token("olga", scope: "openid mcp:operate");
        foreach (var path in AdminPaths)
        {
            // Authenticated, but not an admin: a reader, and a caller that maps to no role at all.
            await AssertForbiddenAsync(await GetAsync(http, path, reader), NotAnAdmin);
            await AssertForbiddenAsync(await GetAsync(http, path, unmapped), NotAnAdmin);

            Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, path, operatorToken)).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, path, AdminToken)).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync(http, path)).StatusCode);
        }

        using var clear = new HttpRequestMessage(HttpMethod.Post, "/admin/cache/clear");
        clear.Headers.Authorization = new AuthenticationHeaderValue("Bearer", reader);
        await AssertForbiddenAsync(await http.SendAsync(clear, Ct), NotAnAdmin);

        // The reader still uses the MCP endpoint as before.
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct, bearerToken: reader);
        Assert.Equal("ok", TestCalls.Text(await client.CallToolAsync("b/echo", TestCalls.Message("ok"), cancellationToken: Ct)));
    }

    [Fact]
    public async Task Static_bearer_callers_are_admins_only_through_an_admin_default_role()
    {
        await using var backend = await SampleHttpHost.StartAsync();

        // Bearer tokens carry no claims: without an admin default_role they never open the admin API.
        await using (var proxy = await ProxyHost.StartAsync($"""
            [auth]
            type = "bearer"
            tokens = ["client-token-1234567"]
            [security]
            admin_token = "{AdminToken}"

            {backend.Backend("b")}
            """))
        {
            using var http = new HttpClient { BaseAddress = proxy.BaseAddress };
            await AssertForbiddenAsync(await GetAsync(http, "/admin/config", "client-token-1234567"), NotAnAdmin);
            Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, "/admin/config", AdminToken)).StatusCode);
        }

        // Without an admin_token either: nobody but an admin role gets in (the bearer caller maps to no admin role).
        await using (var proxy = await ProxyHost.StartAsync($"""
            [auth]
            type = "bearer"
            tokens = ["client-token-1234567"]

            {backend.Backend("b")}
            """))
        {
            using var http = new HttpClient { BaseAddress = proxy.BaseAddress };
            await AssertForbiddenAsync(await GetAsync(http, "/admin/config", "client-token-1234567"), NotAnAdmin);
        }

        // default_role in admin_roles: every bearer token is an admin (they are indistinguishable).
        await using (var proxy = await ProxyHost.StartAsync($"""
            [auth]
            type = "bearer"
            tokens = ["client-token-1234567"]
            default_role = "ops"
            admin_roles = ["ops"]
            [[auth.roles]]
            name = "ops"

            {backend.Backend("b")}
            """))
        {
            using var http = new HttpClient { BaseAddress = proxy.BaseAddress };
            Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, "/admin/config", "client-token-1234567")).StatusCode);
        }
    }

    [Fact]
    public async Task The_loopback_rule_refuses_requests_relayed_by_a_reverse_proxy()
    {
        await using var proxy = await ProxyHost.StartAsync("""
            [observability.metrics]
            enabled = true
            """);
        using var http = new HttpClient { BaseAddress = proxy.BaseAddress };

        foreach (var path in AdminPaths)
        {
            Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, path)).StatusCode);
        }

        // A reverse proxy on the same host connects from loopback, but on behalf of anyone: it says so in these headers.
        var forwarded = new (string Name, string Value)[]
        {
            ("X-Forwarded-For", "203.0.113.7"),
            ("Forwarded", "for=203.0.113.7;proto=https"),
            ("X-Real-IP", "203.0.113.7"),
            ("X-Forwarded-For", "127.0.0.1"), // a relayed request is relayed, whoever it claims to be for
        };
        foreach (var (name, value) in forwarded)
        {
            foreach (var path in AdminPaths)
            {
                await AssertForbiddenAsync(
                    await GetAsync(http, path, headers: new Dictionary<string, string> { [name] = value }),
                    "the admin API answers direct loopback callers only unless [auth] or [security] admin_token is configured; " +
                    "this request was relayed by a proxy (it carries forwarding headers)");
            }
        }

        // /health stays open whatever the headers.
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, "/health", headers: new Dictionary<string, string> { ["X-Forwarded-For"] = "203.0.113.7" })).StatusCode);
    }

    [Fact]
    public async Task Forwarded_loopback_requests_pass_when_configured_to()
    {
        await using var proxy = await ProxyHost.StartAsync("""
            [security]
            admin_allow_forwarded = true
            """);
        using var http = new HttpClient { BaseAddress = proxy.BaseAddress };

        Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, "/admin/config", headers: new Dictionary<string, string> { ["X-Forwarded-For"] = "203.0.113.7" })).StatusCode);
    }
}
