using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using McpProxy.Tests.Infrastructure;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Resilience;

/// <summary>
/// A dead HTTP backend is reported dead, exactly as a crashed stdio child: unavailable in <c>/admin/backends</c>,
/// <c>backend_up</c> 0, <c>/health</c> degraded, its items gone with <c>list_changed</c>; probed with backoff, it comes
/// back by itself when it answers again.
/// </summary>
// Alone: these scrape gauges while backends restart. Every in-process proxy's OpenTelemetry listener also sees the
// other test proxies' "McpProxy" meters (it filters by meter name only), and when one of those hosts is disposed the
// shared metric stream goes with it, so a gauge could vanish from this proxy's /admin/metrics. One proxy per process
// (production) is not affected.
[Collection(McpProxy.Tests.Security.AloneCollection.Name)]
public sealed class DeadBackendTests
{
    private static CancellationToken Ct => TestContext.Timeout(90);

    [Fact]
    public async Task A_stopped_http_backend_is_marked_unavailable_its_tools_leave_and_come_back_when_it_restarts()
    {
        var dead = await SampleHttpHost.StartAsync();
        var port = dead.BaseAddress.Port;
        await using var alive = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync("""
            [observability.metrics]
            enabled = true

            """ + dead.Backend("gone") + alive.Backend("stays"));
        var listChanged = 0;
        await using var client = await proxy.ConnectAsync(new McpClientOptions
        {
            Handlers = new McpClientHandlers
            {
                NotificationHandlers = [new(NotificationMethods.ToolListChangedNotification, (_, _) => { Interlocked.Increment(ref listChanged); return default; })],
            },
        }, Ct);
        using var admin = new HttpClient { BaseAddress = proxy.BaseAddress };
        Assert.Contains(await client.ListToolsAsync(cancellationToken: Ct), t => t.Name == "gone/echo");

        // The backend's server stops: nothing is in flight, no call has to fail first.
        await dead.DisposeAsync();

        await WaitUntil(() => Volatile.Read(ref listChanged) > 0);
        var tools = await client.ListToolsAsync(cancellationToken: Ct);
        Assert.DoesNotContain(tools, t => t.Name.StartsWith("gone/", StringComparison.Ordinal));
        Assert.Contains(tools, t => t.Name == "stays/echo");
        Assert.Equal("unavailable", await StateAsync(admin, "gone"));
        Assert.Equal(0, await PrometheusText.ScrapeAsync(admin, "mcp_proxy_backend_up", ("backend", "gone")));
        using (var health = await admin.GetAsync("/health", Ct))
        {
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            var body = (await health.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
            Assert.Equal("Degraded", (string?)body["checks"]!["backends"]!["status"]);
        }

        // Its tools fail fast with an error that says why; the other backend is untouched.
        var refused = await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync("gone/echo", Message("x"), cancellationToken: Ct).AsTask());
        Assert.Contains("Backend 'gone' is unavailable", refused.Message, StringComparison.Ordinal);
        Assert.Equal("still here", Text(await client.CallToolAsync("stays/echo", Message("still here"), cancellationToken: Ct)));

        // It starts again on the same port: probed with backoff, it is found and its tools come back.
        var changesBefore = Volatile.Read(ref listChanged);
        await using var restarted = await SampleHttpHost.StartAsync("--urls", $"http://127.0.0.1:{port}");
        await WaitUntil(async () => await StateAsync(admin, "gone") == "ready");
        await WaitUntil(() => Volatile.Read(ref listChanged) > changesBefore);
        Assert.Contains(await client.ListToolsAsync(cancellationToken: Ct), t => t.Name == "gone/echo");
        Assert.Equal("back", Text(await client.CallToolAsync("gone/echo", Message("back"), cancellationToken: Ct)));
        var up = await PrometheusText.ScrapeAsync(admin, "mcp_proxy_backend_up", ("backend", "gone"));
        Assert.True(up == 1, $"backend_up {up}; /admin/backends: {await admin.GetStringAsync("/admin/backends", Ct)}");
    }

    private static async Task<string?> StateAsync(HttpClient admin, string backend) =>
        (string?)(await admin.GetFromJsonAsync<JsonArray>("/admin/backends", Ct))!.Single(b => (string?)b!["name"] == backend)!["state"];
}
