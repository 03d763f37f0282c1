using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using McpProxy.Sessions;
using McpProxy.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Sessions;

/// <summary>
/// <c>[proxy.sessions]</c>: a total cap, a per-caller cap and an idle timeout. Past a cap a new session gets 429 with a
/// JSON-RPC error naming the cap; nobody's open session is evicted; ended sessions free their slot.
/// </summary>
public sealed class SessionLimitTests
{
    private static CancellationToken Ct => TestContext.Timeout(60);

    [Fact]
    public async Task A_caller_at_its_cap_gets_429_while_other_callers_connect_and_its_own_sessions_keep_working()
    {
        await using var issuer = await JwtIssuer.StartAsync();
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync($"""
            [proxy]
            name = "test-proxy"
            [proxy.listen]
            port = 0
            [proxy.sessions]
            max_sessions_per_caller = 2

            {issuer.AuthToml()}

            {backend.Backend("b")}
            """);
        var alice = issuer.Token("alice");
        var bob = issuer.Token("bob");

        await using var a1 = await proxy.ConnectAsync(cancellationToken: Ct, bearerToken: alice);
        var a2 = await proxy.ConnectAsync(cancellationToken: Ct, bearerToken: alice);

        using var http = new HttpClient();
        var refused = await http.SendAsync(InitializeRequest(proxy.McpEndpoint, alice), Ct);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        var error = JsonNode.Parse(await refused.Content.ReadAsStringAsync(Ct))!["error"]!;
        Assert.Contains("max_sessions_per_caller", (string?)error["message"]);
        Assert.Contains("2", (string?)error["message"]);

        // The SDK client sees the refusal too, with the message.
        var clientError = await Assert.ThrowsAnyAsync<Exception>(() => proxy.ConnectAsync(cancellationToken: Ct, bearerToken: alice));
        Assert.Contains("max_sessions_per_caller", clientError.ToString());

        // Another caller is not affected, and alice's open sessions were not evicted.
        await using var b1 = await proxy.ConnectAsync(cancellationToken: Ct, bearerToken: bob);
        Assert.Equal("hi", Text(await b1.CallToolAsync("b/echo", Message("hi"), cancellationToken: Ct)));
        Assert.Equal("a1", Text(await a1.CallToolAsync("b/echo", Message("a1"), cancellationToken: Ct)));
        Assert.Equal("a2", Text(await a2.CallToolAsync("b/echo", Message("a2"), cancellationToken: Ct)));

        // Ending a session (the client's DELETE) frees its slot.
        var limiter = proxy.Services.GetRequiredService<SessionLimiter>();
        await a2.DisposeAsync();
        await WaitUntil(() => limiter.CountFor("caller:alice") == 1);
        await using var a3 = await proxy.ConnectAsync(cancellationToken: Ct, bearerToken: alice);
        Assert.Equal("a3", Text(await a3.CallToolAsync("b/echo", Message("a3"), cancellationToken: Ct)));
    }

    [Fact]
    public async Task The_total_cap_refuses_new_sessions_until_one_ends()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync($"""
            [proxy]
            name = "test-proxy"
            [proxy.listen]
            port = 0
            [proxy.sessions]
            max_sessions = 2

            {backend.Backend("b")}
            """);
        var limiter = proxy.Services.GetRequiredService<SessionLimiter>();

        var c1 = await proxy.ConnectAsync(cancellationToken: Ct);
        await using var c2 = await proxy.ConnectAsync(cancellationToken: Ct);
        using var http = new HttpClient();
        var refused = await http.SendAsync(InitializeRequest(proxy.McpEndpoint), Ct);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        var body = JsonNode.Parse(await refused.Content.ReadAsStringAsync(Ct))!;
        Assert.Equal("2.0", (string?)body["jsonrpc"]);
        Assert.Contains("[proxy.sessions] max_sessions)", (string?)body["error"]!["message"]);
        Assert.Equal(2, limiter.Count);

        await c1.DisposeAsync();
        await WaitUntil(() => limiter.Count == 1);
        await using var c3 = await proxy.ConnectAsync(cancellationToken: Ct);
        Assert.Equal("ok", Text(await c3.CallToolAsync("b/echo", Message("ok"), cancellationToken: Ct)));
        Assert.Equal("ok2", Text(await c2.CallToolAsync("b/echo", Message("ok2"), cancellationToken: Ct)));
    }

    [Fact]
    public async Task An_idle_session_is_closed_after_the_idle_timeout_and_frees_its_slot()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(
            $"""
            [proxy]
            name = "test-proxy"
            [proxy.listen]
            port = 0
            [proxy.sessions]
            idle_timeout_seconds = 60
            max_sessions = 1

            {backend.Backend("b")}
            """,
            configure: builder => builder.Services.AddSingleton<TimeProvider>(clock));
        var limiter = proxy.Services.GetRequiredService<SessionLimiter>();

        // A raw session with no open GET stream: idle as soon as its requests are answered.
        using var http = new HttpClient();
        var init = await http.SendAsync(InitializeRequest(proxy.McpEndpoint), Ct);
        Assert.Equal(HttpStatusCode.OK, init.StatusCode);
        var session = init.Headers.GetValues("Mcp-Session-Id").Single();
        Assert.Equal(HttpStatusCode.Accepted, (await PostAsync(http, proxy, """{"jsonrpc":"2.0","method":"notifications/initialized"}""", session)).StatusCode);
        Assert.Equal(1, limiter.Count);

        // Not yet idle for long enough: still open.
        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(http, proxy, """{"jsonrpc":"2.0","id":2,"method":"ping"}""", session)).StatusCode);

        // Past the timeout (the SDK checks every 5 s of the clock): closed, slot freed, its id is gone.
        await WaitUntil(() =>
        {
            clock.Advance(TimeSpan.FromSeconds(5));
            return limiter.Count == 0;
        });
        Assert.Equal(HttpStatusCode.NotFound, (await PostAsync(http, proxy, """{"jsonrpc":"2.0","id":3,"method":"ping"}""", session)).StatusCode);
        await using var next = await proxy.ConnectAsync(cancellationToken: Ct);
        Assert.Equal("ok", Text(await next.CallToolAsync("b/echo", Message("ok"), cancellationToken: Ct)));
    }

    private static async Task<HttpResponseMessage> PostAsync(HttpClient http, ProxyHost proxy, string body, string session)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, proxy.McpEndpoint) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Accept.ParseAdd("application/json, text/event-stream");
        request.Headers.Add("Mcp-Session-Id", session);
        request.Headers.Add("MCP-Protocol-Version", "2025-11-25");
        return await http.SendAsync(request, Ct);
    }
}
