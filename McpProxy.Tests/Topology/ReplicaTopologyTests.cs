using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using McpProxy.AppHost;
using McpProxy.Tests.Replicas;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol.Client;
using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Topology;

/// <summary>
/// The topology scales out (issue 15 item 7): the AppHost runs the proxy as two replicas sharing Redis behind Aspire's
/// load balancer, with no affinity. One legacy session is served by both (their <c>X-McpProxy-Instance</c> headers), a
/// modern (2026-07-28) client is served by both, and the session outlives the replica that is stopped.
/// </summary>
[Collection(TopologyCollection.Name)]
public sealed class ReplicaTopologyTests(TopologyFixture topology)
{
    [Fact]
    public async Task One_legacy_session_and_a_modern_client_are_served_by_both_replicas_and_the_session_survives_one_stopping()
    {
        var ct = TestContext.Timeout(180);
        var replicas = await ReplicaIdsAsync(topology, ct);
        Assert.Equal(TopologyNames.ProxyReplicas, replicas.Length);

        // A new TCP connection per request, so Aspire's proxy (which balances connections) spreads the requests.
        using var router = new ReplicaRouter(() => topology.McpEndpoint);
        using var http = new HttpClient(router);
        await using var client = await McpClient.CreateAsync(
            new HttpClientTransport(
                new HttpClientTransportOptions
                {
                    Endpoint = topology.McpEndpoint,
                    TransportMode = HttpTransportMode.StreamableHttp,
                    AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = "Bearer " + topology.ClientToken },
                },
                http),
            new McpClientOptions { ProtocolVersion = "2025-11-25" },
            cancellationToken: ct);
        var session = client.SessionId;
        Assert.NotNull(session);

        async Task<string> EchoAsync(string text)
        {
            var before = router.AnsweredBy.Count;
            Assert.Equal(text, Text(await client.CallToolAsync("sample-a__echo", Message(text), cancellationToken: ct)));
            return router.AnsweredBy.Skip(before).Last();
        }

        var legacy = new HashSet<string>();
        for (var i = 0; i < 40 && legacy.Count < 2; i++)
        {
            legacy.Add(await EchoAsync($"legacy {i}"));
        }

        Assert.Equal(2, legacy.Count);

        // A modern client: no initialize, no session; each request stands alone, whichever replica takes it.
        var modern = new HashSet<string>();
        for (var i = 0; i < 40 && modern.Count < 2; i++)
        {
            using var request = ModernCall(topology, i, $"modern {i}");
            using var response = await http.SendAsync(request, ct);
            var body = await response.Content.ReadAsStringAsync(ct);
            Assert.True(response.StatusCode == HttpStatusCode.OK, body);
            Assert.Contains($"modern {i}", body, StringComparison.Ordinal);
            Assert.False(response.Headers.Contains("Mcp-Session-Id"));
            modern.Add(response.Headers.GetValues("X-McpProxy-Instance").Single());
        }

        Assert.Equal(2, modern.Count);

        // One replica stops: the session goes on, on the other one.
        var commands = topology.App.Services.GetRequiredService<ResourceCommandService>();
        var notifications = topology.App.ResourceNotifications;
        var stopped = replicas[0];
        var result = await commands.ExecuteCommandAsync(stopped, KnownResourceCommands.StopCommand, ct);
        Assert.True(result.Success, result.Message);
        await notifications.WaitForResourceAsync(
            TopologyNames.Proxy, e => e.ResourceId == stopped && KnownResourceStates.TerminalStates.Contains(e.Snapshot.State?.Text), ct);
        try
        {
            var survivors = new HashSet<string>();
            for (var i = 0; i < 5; i++)
            {
                survivors.Add(await EchoAsync($"after stop {i}"));
            }

            Assert.Single(survivors);
            Assert.Equal(session, client.SessionId);
        }
        finally
        {
            // Leave the topology as the other tests of the collection expect it: both replicas up.
            await commands.ExecuteCommandAsync(stopped, KnownResourceCommands.StartCommand, ct);
            await notifications.WaitForResourceAsync(
                TopologyNames.Proxy, e => e.ResourceId == stopped && e.Snapshot.HealthStatus == Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy, ct);
        }
    }

    /// <summary>The unique resource ids of the proxy's replicas (they share the display name <c>proxy</c>), once all run.</summary>
    private static async Task<string[]> ReplicaIdsAsync(TopologyFixture topology, CancellationToken ct)
    {
        var running = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var e in topology.App.ResourceNotifications.WatchAsync(ct))
        {
            if (e.Resource.Name == TopologyNames.Proxy && e.ResourceId != TopologyNames.Proxy && e.Snapshot.State?.Text == KnownResourceStates.Running)
            {
                running.Add(e.ResourceId);
                if (running.Count == TopologyNames.ProxyReplicas)
                {
                    break;
                }
            }
        }

        return [.. running.Order(StringComparer.Ordinal)];
    }

    /// <summary>A raw 2026-07-28 <c>tools/call</c>: per-request <c>_meta</c>, the <c>Mcp-Method</c>/<c>Mcp-Name</c> headers, no session.</summary>
    private static HttpRequestMessage ModernCall(TopologyFixture topology, int id, string text)
    {
        var json = $$"""
            {"jsonrpc":"2.0","id":{{id}},"method":"tools/call","params":{"name":"sample-a__echo","arguments":{"message":"{{text}}"},
             "_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"modern-test","version":"1"},
                      "io.modelcontextprotocol/clientCapabilities":{ } } } }
            """;
        var request = new HttpRequestMessage(HttpMethod.Post, topology.McpEndpoint) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Accept.ParseAdd("application/json, text/event-stream");
        request.Headers.Add("MCP-Protocol-Version", "2026-07-28");
        request.Headers.Add("Mcp-Method", "tools/call");
        request.Headers.Add("Mcp-Name", "sample-a__echo");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", topology.ClientToken);
        return request;
    }
}
