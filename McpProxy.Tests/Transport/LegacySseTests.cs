using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using McpProxy.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Transport;

/// <summary>
/// <c>[proxy.listen] legacy_sse</c>: clients of the deprecated HTTP+SSE transport (the C# SDK's and the TypeScript
/// SDK's) connect when it is on, under the same auth, RBAC, session caps and audit; when it is off, they are told in
/// one sentence that the endpoint speaks Streamable HTTP.
/// </summary>
public sealed class LegacySseTests
{
    private static CancellationToken Ct => TestContext.Timeout(60);

    private const string Legacy = """
        [proxy]
        name = "legacy-proxy"
        [proxy.listen]
        port = 0
        legacy_sse = true
        [observability]
        audit = true
        """;

    private static Task<McpClient> ConnectSseAsync(Uri sse, string? bearerToken = null) =>
        McpClient.CreateAsync(
            new HttpClientTransport(new HttpClientTransportOptions
            {
                Endpoint = sse,
                TransportMode = HttpTransportMode.Sse,
                AdditionalHeaders = bearerToken is null ? null : new Dictionary<string, string> { ["Authorization"] = "Bearer " + bearerToken },
            }),
            cancellationToken: Ct);

    [Fact]
    public async Task With_legacy_sse_a_csharp_sse_client_lists_and_calls_at_sse_and_under_the_mcp_path_and_is_audited()
    {
        var logs = new CapturingLoggerProvider();
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(Legacy + "\n" + backend.Backend("b"), logging: l => l.AddProvider(logs));

        foreach (var path in new[] { "/sse", "/mcp/sse" })
        {
            await using var client = await ConnectSseAsync(new Uri(proxy.BaseAddress, path));
            Assert.Equal("legacy-proxy", client.ServerInfo!.Name);
            Assert.Contains(await client.ListToolsAsync(cancellationToken: Ct), t => t.Name == "b/echo");
            Assert.Equal("over " + path, Text(await client.CallToolAsync("b/echo", Message("over " + path), cancellationToken: Ct)));
        }

        var audit = logs.Entries.Where(e => e.Category == "McpProxy.Audit" && (string?)e.State["Item"] == "b/echo").ToList();
        Assert.Equal(2, audit.Count);
        Assert.All(audit, e => Assert.Equal("ok", e.State["Outcome"]));

        // Streamable HTTP keeps working beside it.
        await using var streamable = await proxy.ConnectAsync(cancellationToken: Ct);
        Assert.Equal("still", Text(await streamable.CallToolAsync("b/echo", Message("still"), cancellationToken: Ct)));
    }

    [Fact]
    public async Task With_legacy_sse_the_typescript_sdk_sse_client_connects_lists_and_calls()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(Legacy + "\n" + backend.Backend("b"));

        var seen = await RunTsSseClientAsync(new Uri(proxy.BaseAddress, "/sse"));

        Assert.False(seen.TryGetProperty("connectError", out var error), error.ToString());
        Assert.Equal("legacy-proxy", seen.GetProperty("server").GetProperty("name").GetString());
        Assert.Contains("b/echo", seen.GetProperty("tools").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal("from ts over sse", seen.GetProperty("echo").GetString());
    }

    [Fact]
    public async Task With_auth_a_legacy_client_needs_a_token_roles_apply_and_session_caps_hold()
    {
        await using var issuer = await JwtIssuer.StartAsync();
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync($"""
            {Legacy}
            [proxy.sessions]
            max_sessions_per_caller = 1

            {issuer.AuthToml("""
                [[auth.roles]]
                name = "reader"
                allow_tools = ["b/echo"]

                [auth.role_mapping]
                claim = "scope"
                mapping = { "mcp:read" = "reader" }
                """)}

            {backend.Backend("b")}
            """);

        // No token: 401 on both legacy endpoints, from the C# client and over plain HTTP.
        using var http = new HttpClient { BaseAddress = proxy.BaseAddress };
        using (var get = new HttpRequestMessage(HttpMethod.Get, "/sse"))
        {
            get.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
            using var response = await http.SendAsync(get, HttpCompletionOption.ResponseHeadersRead, Ct);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        using (var post = await http.PostAsync("/mcp/message?sessionId=x", new StringContent("""{"jsonrpc":"2.0","id":1,"method":"ping"}""", Encoding.UTF8, "application/json"), Ct))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, post.StatusCode);
        }

        await Assert.ThrowsAnyAsync<Exception>(() => ConnectSseAsync(new Uri(proxy.BaseAddress, "/sse")));

        // With a token: the reader's role shapes the list and refuses the rest, over the C# and the TypeScript client.
        var token = issuer.Token("rita", scope: "mcp:read");
        await using (var reader = await ConnectSseAsync(new Uri(proxy.BaseAddress, "/sse"), token))
        {
            Assert.Equal(["b/echo"], (await reader.ListToolsAsync(cancellationToken: Ct)).Select(t => t.Name));
            Assert.Equal("ok", Text(await reader.CallToolAsync("b/echo", Message("ok"), cancellationToken: Ct)));
            var calls = backend.ToolCalls;
            var refused = await Assert.ThrowsAsync<McpProtocolException>(() => reader.CallToolAsync("b/toggle_extra", cancellationToken: Ct).AsTask());
            Assert.Contains("The tool 'b/toggle_extra' is not allowed for this caller (rita)", refused.Message, StringComparison.Ordinal);
            Assert.Equal(calls, backend.ToolCalls);

            // max_sessions_per_caller = 1 counts the open SSE session: a second one is refused with 429.
            using var second = new HttpRequestMessage(HttpMethod.Get, "/sse");
            second.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
            second.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await http.SendAsync(second, HttpCompletionOption.ResponseHeadersRead, Ct);
            Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        }

        // The slot is given back when the SSE stream closes.
        await WaitUntil(async () =>
        {
            try
            {
                await using var again = await ConnectSseAsync(new Uri(proxy.BaseAddress, "/sse"), token);
                return true;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        });

        var seen = await RunTsSseClientAsync(new Uri(proxy.BaseAddress, "/sse"), token);
        Assert.False(seen.TryGetProperty("connectError", out var error), error.ToString());
        Assert.Equal(["b/echo"], seen.GetProperty("tools").EnumerateArray().Select(t => t.GetString()));
        Assert.Contains("not allowed for this caller (rita)", seen.GetProperty("deniedError").GetProperty("message").GetString(), StringComparison.Ordinal);

        var unauthenticated = await RunTsSseClientAsync(new Uri(proxy.BaseAddress, "/sse"));
        Assert.Contains("401", unauthenticated.GetProperty("connectError").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GET", "/sse")]
    [InlineData("POST", "/message")]
    [InlineData("GET", "/mcp/sse")]
    [InlineData("POST", "/mcp/message?sessionId=abc")]
    public async Task Without_legacy_sse_the_legacy_paths_say_in_one_sentence_that_the_endpoint_speaks_streamable_http(string method, string path)
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(backend.Backend("b"));
        using var http = new HttpClient { BaseAddress = proxy.BaseAddress };
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (method == "POST")
        {
            request.Content = new StringContent("""{"jsonrpc":"2.0","id":1,"method":"ping"}""", Encoding.UTF8, "application/json");
        }

        using var response = await http.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(
            "This MCP endpoint speaks Streamable HTTP at /mcp and does not serve the deprecated HTTP+SSE transport (/sse, /message): connect with a Streamable HTTP client.",
            await ErrorMessageAsync(response));
    }

    [Fact]
    public async Task A_get_on_the_mcp_endpoint_without_a_session_gets_one_sentence_and_no_sdk_configuration_advice()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(backend.Backend("b"));
        using var http = new HttpClient { BaseAddress = proxy.BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/mcp");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));

        using var response = await http.SendAsync(request, Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var message = await ErrorMessageAsync(response);
        Assert.Equal("This MCP endpoint speaks Streamable HTTP: POST an initialize request to /mcp first (the deprecated HTTP+SSE transport is not served here).", message);

        // The C# SDK's legacy client, pointed at the proxy, fails to connect (and nothing mentions SDK settings).
        await Assert.ThrowsAnyAsync<Exception>(() => ConnectSseAsync(new Uri(proxy.BaseAddress, "/sse")));
        await Assert.ThrowsAnyAsync<Exception>(() => ConnectSseAsync(proxy.McpEndpoint));
    }

    [Fact]
    public async Task With_legacy_sse_a_get_on_the_mcp_endpoint_without_a_session_points_to_the_sse_path()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(Legacy + "\n" + backend.Backend("b"));
        using var http = new HttpClient { BaseAddress = proxy.BaseAddress };
        using var response = await http.GetAsync("/mcp", Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(
            "This MCP endpoint speaks Streamable HTTP: POST an initialize request to /mcp first (clients of the deprecated HTTP+SSE transport connect to /mcp/sse).",
            await ErrorMessageAsync(response));
    }

    private static async Task<string?> ErrorMessageAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.DoesNotContain("HttpServerTransportOptions", body, StringComparison.Ordinal);
        return (string?)JsonNode.Parse(body)!["error"]!["message"];
    }

    private static async Task<JsonElement> RunTsSseClientAsync(Uri sse, string? token = null)
    {
        var psi = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = TestPaths.RepoRoot };
        psi.ArgumentList.Add(Path.Combine(TestPaths.RepoRoot, "McpProxy.Tests", "node", "ts-sse-client.mjs"));
        psi.ArgumentList.Add(sse.ToString());
        if (token is not null)
        {
            psi.ArgumentList.Add(token);
        }

        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(cts.Token);
        Assert.True(process.ExitCode == 0, $"node exited {process.ExitCode}: {await stderr}");
        return JsonDocument.Parse((await stdout).Trim()).RootElement;
    }
}
