using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using McpProxy.Backends.Sample;
using McpProxy.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Backends;

/// <summary>
/// Each backend in its own era (issue 15 item 2): a legacy client (pinned to 2025-11-25, as every client test) reaches
/// a modern backend (the HTTP sample, 2026-07-28) and a legacy one (server-everything over stdio) through the same
/// proxy; the era is probed per connection, shown in <c>/admin/backends</c> and the ready line, probed again after a
/// restart; a modern backend's list changes (on its <c>subscriptions/listen</c> stream) reach the legacy client.
/// </summary>
public sealed class BackendEraTests
{
    private static CancellationToken Ct => TestContext.Timeout(90);

    private static readonly McpClientOptions Legacy = new() { ProtocolVersion = "2025-11-25" };

    private static string Everything(string name, string extra = "") => TestPaths.EverythingStdioBackend(name, extra);

    [Fact]
    public async Task Each_backend_is_spoken_to_in_the_newest_era_it_supports()
    {
        await using var sample = await SampleHttpHost.StartAsync();
        var log = new CapturingLoggerProvider();
        await using var proxy = await ProxyHost.StartAsync(sample.Backend("m") + Everything("l"), logging: l => l.AddProvider(log));
        await using var client = await proxy.ConnectAsync(Legacy, Ct);
        using var admin = new HttpClient { BaseAddress = proxy.BaseAddress };

        Assert.Equal("2026-07-28", await ProtocolAsync(admin, "m"));
        Assert.Equal("2025-11-25", await ProtocolAsync(admin, "l"));

        // The modern backend was never initialized: discovered, then served per request.
        Assert.Contains(RequestMethods.ServerDiscover, sample.ReceivedMethods);
        Assert.DoesNotContain(RequestMethods.Initialize, sample.ReceivedMethods);

        // Both answer the legacy client.
        Assert.Equal("modern", Text(await client.CallToolAsync("m/echo", Message("modern"), cancellationToken: Ct)));
        Assert.Contains("legacy", Text(await client.CallToolAsync("l/echo", Message("legacy"), cancellationToken: Ct)), StringComparison.Ordinal);
        Assert.NotEmpty((await client.ReadResourceAsync("m/sample://info", cancellationToken: Ct)).Contents);

        // The connect log line names the era.
        Assert.Contains(log.Entries, e => e.Message.StartsWith("Backend 'm' ready:", StringComparison.Ordinal) && e.Message.EndsWith("(protocol 2026-07-28)", StringComparison.Ordinal));
        Assert.Contains(log.Entries, e => e.Message.StartsWith("Backend 'l' ready:", StringComparison.Ordinal) && e.Message.EndsWith("(protocol 2025-11-25)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_pinned_protocol_is_spoken_and_the_other_era_is_refused()
    {
        await using var sample = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(
            sample.Backend("pinned", "protocol = \"2025-11-25\"") + Everything("refused", "protocol = \"2026-07-28\""));
        using var admin = new HttpClient { BaseAddress = proxy.BaseAddress };

        // The dual-era sample, pinned to the legacy era, is initialized (a session) instead of discovered.
        Assert.Equal("2025-11-25", await ProtocolAsync(admin, "pinned"));
        Assert.Contains(RequestMethods.Initialize, sample.ReceivedMethods);
        Assert.DoesNotContain(RequestMethods.ServerDiscover, sample.ReceivedMethods);

        // A legacy-only server pinned to the modern era is not fallen back from: it stays unavailable.
        var refused = await BackendAsync(admin, "refused");
        Assert.Equal("unavailable", (string?)refused["state"]);
        Assert.Null((string?)refused["protocol"]);
    }

    [Fact]
    public async Task List_changes_of_a_modern_backend_reach_a_legacy_client()
    {
        await using var sample = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(sample.Backend("m"));
        var changes = 0;
        await using var client = await proxy.ConnectAsync(new McpClientOptions
        {
            ProtocolVersion = "2025-11-25",
            Handlers = new McpClientHandlers
            {
                NotificationHandlers = [new(NotificationMethods.ToolListChangedNotification, (_, _) => { Interlocked.Increment(ref changes); return default; })],
            },
        }, Ct);
        Assert.DoesNotContain(await client.ListToolsAsync(cancellationToken: Ct), t => t.Name == "m/extra");

        // The backend's only channel for it is the listen stream the proxy keeps open.
        Assert.Equal("added", Text(await client.CallToolAsync("m/toggle_extra", cancellationToken: Ct)));
        await WaitUntil(() => Volatile.Read(ref changes) > 0);
        Assert.Contains(await client.ListToolsAsync(cancellationToken: Ct), t => t.Name == "m/extra");
        Assert.Contains(RequestMethods.SubscriptionsListen, sample.ReceivedMethods);
    }

    [Fact]
    public async Task A_resource_subscription_reaches_a_modern_backend_in_its_listen_stream()
    {
        await using var sample = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(sample.Backend("m"));
        await using var client = await proxy.ConnectAsync(Legacy, Ct);

        await client.SubscribeToResourceAsync("m/sample://info", cancellationToken: Ct);

        // No resources/subscribe (a modern server has none): the listen stream was re-opened carrying the URI.
        await WaitUntil(() => sample.ReceivedUris.Contains("subscriptions/listen sample://info"));
        Assert.DoesNotContain(RequestMethods.ResourcesSubscribe, sample.ReceivedMethods);
    }

    [Fact]
    public async Task A_modern_http_backend_sees_its_own_names_in_the_headers_and_the_callers_unknown_param_headers()
    {
        var seen = new ConcurrentQueue<Dictionary<string, string>>();
        var app = SampleServer.BuildHttpApp(["--urls", "http://127.0.0.1:0"]);
        app.Use(async (context, next) =>
        {
            if (HttpMethods.IsPost(context.Request.Method))
            {
                seen.Enqueue(context.Request.Headers
                    .Where(h => h.Key.StartsWith("Mcp-", StringComparison.OrdinalIgnoreCase))
                    .ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString()));
            }

            await next();
        });
        await app.StartAsync(Ct);
        try
        {
            var endpoint = new Uri(new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()), "/mcp");
            await using var proxy = await ProxyHost.StartAsync($"""
                [[backends]]
                name = "m"
                transport = "http"
                url = "{endpoint}"

                """);
            await using var client = await McpClient.CreateAsync(
                new HttpClientTransport(new HttpClientTransportOptions
                {
                    Endpoint = proxy.McpEndpoint,
                    TransportMode = HttpTransportMode.StreamableHttp,
                    AdditionalHeaders = new Dictionary<string, string> { ["Mcp-Param-Region"] = "eu-west" },
                }),
                Legacy,
                cancellationToken: Ct);

            Assert.Equal("hi", Text(await client.CallToolAsync("m/echo", Message("hi"), cancellationToken: Ct)));

            var call = Assert.Single(seen, h => h.GetValueOrDefault("mcp-method") == "tools/call");
            Assert.Equal("2026-07-28", call["mcp-protocol-version"]);
            Assert.Equal("echo", call["mcp-name"]); // the backend's own name, not m/echo
            Assert.Equal("eu-west", call["mcp-param-region"]);

            // Only the call carries the caller's headers: not the proxy's own requests (discover, lists, listen).
            Assert.All(seen.Where(h => h.GetValueOrDefault("mcp-method") != "tools/call"), h => Assert.False(h.ContainsKey("mcp-param-region")));
        }
        finally
        {
            await app.StopAsync(CancellationToken.None);
            await app.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_backend_restarted_into_the_other_era_is_spoken_to_in_its_new_era()
    {
        // The first process is the sample (modern), crashing after one call; the restarted one is server-everything (legacy).
        var dir = Directory.CreateTempSubdirectory("mcp-proxy-era-");
        try
        {
            var marker = Path.Combine(dir.FullName, "started");
            var script = Path.Combine(dir.FullName, "backend.sh");
            await File.WriteAllTextAsync(script, $"""
                if [ -e '{marker}' ]; then exec node '{TestPaths.EverythingServer}' stdio; fi
                touch '{marker}'
                exec dotnet '{TestPaths.SampleDll}' --stdio --crash-after 1

                """, Ct);
            await using var proxy = await ProxyHost.StartAsync($"""
                [[backends]]
                name = "r"
                transport = "stdio"
                command = "sh"
                args = [{TestPaths.Toml(script)}]
                inherit_env = true

                """);
            await using var client = await proxy.ConnectAsync(Legacy, Ct);
            using var admin = new HttpClient { BaseAddress = proxy.BaseAddress };
            Assert.Equal("2026-07-28", await ProtocolAsync(admin, "r"));

            // The one call the first process serves; then it exits and the supervisor starts the script again.
            try
            {
                await client.CallToolAsync("r/echo", Message("once"), cancellationToken: Ct);
            }
            catch (McpException)
            {
                // The child may exit before its answer is flushed; either way it is gone after the first call.
            }

            await WaitUntil(async () => (await BackendAsync(admin, "r")) is var b && (int?)b["restarts"] >= 1 && (string?)b["state"] == "ready");

            Assert.Equal("2025-11-25", await ProtocolAsync(admin, "r"));
            Assert.Contains("again", Text(await client.CallToolAsync("r/echo", Message("again"), cancellationToken: Ct)), StringComparison.Ordinal);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static async Task<JsonObject> BackendAsync(HttpClient admin, string backend) =>
        (JsonObject)(await admin.GetFromJsonAsync<JsonArray>("/admin/backends", Ct))!.Single(b => (string?)b!["name"] == backend)!;

    private static async Task<string?> ProtocolAsync(HttpClient admin, string backend) => (string?)(await BackendAsync(admin, backend))["protocol"];
}
