using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using McpProxy.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Security;

/// <summary>Malformed JSON-RPC gets clean errors and the proxy keeps serving; secrets never reach the logs.</summary>
public sealed class HostileInputTests
{
    private static CancellationToken Ct => TestContext.Timeout(60);

    [Fact]
    public async Task Malformed_json_rpc_gets_clean_errors_and_the_proxy_keeps_serving()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(backend.Backend("b"));
        using var http = new HttpClient();

        // A real session to aim the garbage at (most requests need one).
        var init = await PostAsync(http, proxy, """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"fuzz","version":"1"}}}""", null);
        Assert.Equal(HttpStatusCode.OK, init.StatusCode);
        var session = init.Headers.GetValues("Mcp-Session-Id").Single();
        Assert.True((await PostAsync(http, proxy, """{"jsonrpc":"2.0","method":"notifications/initialized"}""", session)).IsSuccessStatusCode);

        var deep = new string('[', 100_000) + new string(']', 100_000);
        var inputs = new Dictionary<string, string>
        {
            ["empty body"] = "",
            ["truncated JSON"] = """{"jsonrpc":"2.0","id":2,"method":"tools/li""",
            ["not JSON"] = "hello, proxy",
            ["a JSON string"] = "\"tools/list\"",
            ["wrong jsonrpc version"] = """{"jsonrpc":"1.0","id":3,"method":"tools/list"}""",
            ["method is a number"] = """{"jsonrpc":"2.0","id":4,"method":42}""",
            ["params is a string"] = """{"jsonrpc":"2.0","id":5,"method":"tools/call","params":"echo"}""",
            ["name is an object"] = """{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":{"x":1},"arguments":{}}}""",
            ["arguments is an array"] = """{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"b/echo","arguments":[1,2]}}""",
            ["huge numeric id"] = """{"jsonrpc":"2.0","id":1e308,"method":"tools/list"}""",
            ["integer id beyond 64 bits"] = """{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"tools/list"}""",
            ["id is an object"] = """{"jsonrpc":"2.0","id":{"a":1},"method":"tools/list"}""",
            ["unknown method"] = """{"jsonrpc":"2.0","id":8,"method":"tools/explode","params":{}}""",
            ["unknown tool"] = """{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"b/nope","arguments":{}}}""",
            ["batch array"] = """[{"jsonrpc":"2.0","id":10,"method":"tools/list"},{"jsonrpc":"2.0","id":11,"method":"ping"}]""",
            ["empty batch"] = "[]",
            ["deeply nested"] = deep,
            ["invalid UTF-8 escape"] = """{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"b/echo","arguments":{"message":"\uD800"}}}""",
        };

        foreach (var (name, body) in inputs)
        {
            using var response = await PostAsync(http, proxy, body, session);
            var text = await response.Content.ReadAsStringAsync(Ct);
            var status = (int)response.StatusCode;
            Assert.True(status < 500, $"{name}: {status} {text}");
            if (status == 200 && text.Length > 0)
            {
                // An answer on the stream: a JSON-RPC error (or, for a valid request, a result) — never a crash.
                var json = JsonNode.Parse(text.Contains("data:", StringComparison.Ordinal) ? text[(text.IndexOf("data:", StringComparison.Ordinal) + 5)..].Trim() : text)!;
                Assert.True(json["error"] is not null || json["result"] is not null, $"{name}: {text}");
            }
        }

        // Still serving: the same session, and a fresh client.
        using (var ping = await PostAsync(http, proxy, """{"jsonrpc":"2.0","id":99,"method":"ping"}""", session))
        {
            Assert.Equal(HttpStatusCode.OK, ping.StatusCode);
        }

        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);
        Assert.Equal("alive", Text(await client.CallToolAsync("b/echo", Message("alive"), cancellationToken: Ct)));
    }

    [Fact]
    public async Task Configured_secrets_never_appear_in_logs_errors_or_admin_output()
    {
        const string clientToken = "client-secret-token-7f3a9c";
        const string adminToken = "admin-secret-token-5d1e8b";
        const string backendToken = "backend-secret-token-2c6f4a";
        const string envSecret = "env-secret-value-9b0d3e";
        var secrets = new[] { clientToken, adminToken, backendToken, envSecret };

        var logs = new CapturingLoggerProvider();
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync($$"""
            [auth]
            type = "bearer"
            tokens = ["{{clientToken}}"]
            [security]
            admin_token = "{{adminToken}}"
            max_request_body = 65536
            [observability]
            audit = true
            log_level = "trace"

            {{backend.Backend("b", $"bearer_token = \"{backendToken}\"")}}
            {{backend.Backend("fwd", "forward_auth = true")}}
            [[backends]]
            name = "down"
            transport = "http"
            url = "http://127.0.0.1:1/mcp"
            bearer_token = "{{backendToken}}"

            {{TestPaths.SampleStdioBackend("local")}}
            [backends.env]
            API_KEY = "{{envSecret}}"
            """, logging: l => l.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));

        // Traffic, good and bad: calls, failures, refused tokens (including near-misses of the real ones), admin reads.
        await using (var client = await proxy.ConnectAsync(cancellationToken: Ct, bearerToken: clientToken))
        {
            await client.CallToolAsync("b/echo", Message("hi"), cancellationToken: Ct);
            await client.CallToolAsync("b/whoami", cancellationToken: Ct);
            await client.CallToolAsync("fwd/whoami", cancellationToken: Ct); // the caller's token goes to this backend
            await Assert.ThrowsAnyAsync<Exception>(() => client.CallToolAsync("down/echo", Message("x"), cancellationToken: Ct).AsTask());
            await Assert.ThrowsAnyAsync<Exception>(() => client.CallToolAsync("b/fail", Message("boom"), cancellationToken: Ct).AsTask());
        }

        await Assert.ThrowsAnyAsync<Exception>(() => proxy.ConnectAsync(cancellationToken: Ct, bearerToken: clientToken + "x"));
        await Assert.ThrowsAnyAsync<Exception>(() => proxy.ConnectAsync(cancellationToken: Ct, bearerToken: adminToken));

        using var http = new HttpClient { BaseAddress = proxy.BaseAddress };
        var adminOutput = new StringBuilder();
        foreach (var path in new[] { "/admin/config", "/admin/backends", "/admin/health", "/admin/cache/stats" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", adminToken);
            using var response = await http.SendAsync(request, Ct);
            Assert.True(response.IsSuccessStatusCode, path);
            adminOutput.AppendLine(await response.Content.ReadAsStringAsync(Ct));
        }

        // Error answers never echo the request (its Authorization header included): an oversized body, a truncated one.
        foreach (var body in new HttpContent[] { new StringContent(new string('x', 100_000)), new StringContent("{") })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, proxy.McpEndpoint) { Content = body };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", clientToken);
            request.Headers.Accept.ParseAdd("application/json, text/event-stream");
            request.Headers.ExpectContinue = true; // the 413 comes before the body is sent
            using var response = await http.SendAsync(request, Ct);
            Assert.False(response.IsSuccessStatusCode);
            adminOutput.AppendLine(await response.Content.ReadAsStringAsync(Ct));
        }

        Assert.NotEmpty(logs.Entries);
        foreach (var secret in secrets)
        {
            Assert.DoesNotContain(secret, adminOutput.ToString(), StringComparison.Ordinal);
            foreach (var entry in logs.Entries)
            {
                var everything = entry.Message + entry.Exception + string.Join(";", entry.State.Select(kv => $"{kv.Key}={kv.Value}"));
                Assert.False(everything.Contains(secret, StringComparison.Ordinal), $"secret in log [{entry.Category}] {entry.Message}");
            }
        }
    }

    [Fact]
    public async Task Callers_jwts_never_appear_in_logs_even_when_forwarded_or_refused()
    {
        var logs = new CapturingLoggerProvider();
        await using var issuer = await JwtIssuer.StartAsync();
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync($"""
            {issuer.AuthToml()}
            [observability]
            audit = true
            log_level = "trace"

            {backend.Backend("fwd", "forward_auth = true")}
            """, logging: l => l.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));

        var good = issuer.Token("alice");
        using var stranger = System.Security.Cryptography.RSA.Create(2048);
        var refused = new[] { issuer.Token("bob", lifetime: TimeSpan.FromMinutes(-5)), issuer.Token("carol", audience: "elsewhere"), issuer.Token("dave", signingKey: stranger) };
        await using (var client = await proxy.ConnectAsync(cancellationToken: Ct, bearerToken: good))
        {
            Assert.Contains(good, Text(await client.CallToolAsync("fwd/whoami", cancellationToken: Ct)), StringComparison.Ordinal); // it was forwarded
            await Assert.ThrowsAnyAsync<Exception>(() => client.CallToolAsync("fwd/fail", Message("boom"), cancellationToken: Ct).AsTask());
        }

        foreach (var token in refused)
        {
            await Assert.ThrowsAnyAsync<Exception>(() => proxy.ConnectAsync(cancellationToken: Ct, bearerToken: token));
        }

        Assert.NotEmpty(logs.Entries);
        foreach (var token in refused.Append(good))
        {
            var signature = token[(token.LastIndexOf('.') + 1)..]; // a token's secret part: its signature
            foreach (var entry in logs.Entries)
            {
                var everything = entry.Message + entry.Exception + string.Join(";", entry.State.Select(kv => $"{kv.Key}={kv.Value}"));
                Assert.False(everything.Contains(signature, StringComparison.Ordinal), $"token in log [{entry.Category}] {entry.Message}");
            }
        }
    }

    private static async Task<HttpResponseMessage> PostAsync(HttpClient http, ProxyHost proxy, string body, string? session)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, proxy.McpEndpoint) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Accept.ParseAdd("application/json, text/event-stream");
        if (session is not null)
        {
            request.Headers.Add("Mcp-Session-Id", session);
            request.Headers.Add("MCP-Protocol-Version", "2025-11-25");
        }

        return await http.SendAsync(request, Ct);
    }
}
