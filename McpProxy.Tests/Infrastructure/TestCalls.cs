using System.Net.Http.Headers;
using System.Text;
using ModelContextProtocol.Protocol;

namespace McpProxy.Tests.Infrastructure;

/// <summary>Small helpers shared by the integration tests: tool arguments, result text, polling.</summary>
internal static class TestCalls
{
    /// <summary>Arguments of the sample's <c>echo</c>-style tools.</summary>
    public static Dictionary<string, object?> Message(string text) => new() { ["message"] = text };

    /// <summary>The text of a result with exactly one text block.</summary>
    public static string Text(CallToolResult result) => Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text;

    /// <summary>
    /// A raw MCP <c>initialize</c> POST, as a client's first request, with the headers a test wants to vary.
    /// Send it with <see cref="HttpClient.SendAsync(HttpRequestMessage, CancellationToken)"/>.
    /// </summary>
    public static HttpRequestMessage InitializeRequest(Uri endpoint, string? bearerToken = null, string? origin = null, string? host = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, endpoint)
        {
            Content = new StringContent(
                """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}""",
                Encoding.UTF8,
                "application/json"),
        };
        request.Headers.Accept.ParseAdd("application/json, text/event-stream");
        if (bearerToken is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearerToken);
        }

        if (origin is not null)
        {
            request.Headers.Add("Origin", origin);
        }

        if (host is not null)
        {
            request.Headers.Host = host;
        }

        return request;
    }

    /// <summary>Opens a legacy (2025-11-25) session with raw requests: initialize, then initialized; returns its id.</summary>
    public static async Task<string> OpenRawSessionAsync(HttpClient http, Uri endpoint, CancellationToken cancellationToken)
    {
        string session;
        using (var init = await http.SendAsync(InitializeRequest(endpoint), cancellationToken))
        {
            init.EnsureSuccessStatusCode();
            session = init.Headers.GetValues("Mcp-Session-Id").Single();
        }

        using var initialized = await http.SendAsync(SessionPost(endpoint, session, """{"jsonrpc":"2.0","method":"notifications/initialized"}"""), cancellationToken);
        initialized.EnsureSuccessStatusCode();
        return session;
    }

    /// <summary>A raw JSON-RPC POST on an open session.</summary>
    public static HttpRequestMessage SessionPost(Uri endpoint, string session, string json)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Accept.ParseAdd("application/json, text/event-stream");
        request.Headers.Add("Mcp-Session-Id", session);
        request.Headers.Add("MCP-Protocol-Version", "2025-11-25");
        return request;
    }

    /// <summary>A loopback port free right now (the listener is closed again before it returns).</summary>
    public static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Whether the process <paramref name="pid"/> is gone, polled for up to 10 s.</summary>
    public static async Task<bool> HasExitedAsync(int pid)
    {
        for (var i = 0; i < 100; i++)
        {
            try
            {
                using var process = System.Diagnostics.Process.GetProcessById(pid);
                if (process.HasExited)
                {
                    return true;
                }
            }
            catch (ArgumentException)
            {
                return true; // no such process
            }

            await Task.Delay(100);
        }

        return false;
    }

    public static Task WaitUntil(Func<bool> condition) => WaitUntil(() => Task.FromResult(condition()));

    /// <summary>Polls <paramref name="condition"/> every 50 ms; fails the test after 20 s.</summary>
    public static async Task WaitUntil(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 20 s");
            await Task.Delay(50);
        }
    }
}
