using System.Net;
using System.Text.Json.Nodes;
using McpProxy.Tests.Infrastructure;
using ModelContextProtocol.Client;
using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Replicas;

/// <summary>
/// Legacy sessions across replicas with no affinity (issue 15 item 6): two or more real proxies share one real Redis;
/// a session initialized on one continues on another, stays its creator's, ends everywhere on DELETE, resumes its SSE
/// stream with <c>Last-Event-ID</c> anywhere and outlives the replica that created it.
/// </summary>
public sealed class SharedSessionTests
{
    private const string Init = """{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}""";
    private const string Initialized = """{"jsonrpc":"2.0","method":"notifications/initialized"}""";

    private static CancellationToken Ct => TestContext.Timeout(90);

    private static string Echo(int id, string text) =>
        $$"""{"jsonrpc":"2.0","id":{{id}},"method":"tools/call","params":{"name":"b/echo","arguments":{"message":"{{text}}""" + "\"}}}";

    [Fact]
    public async Task Legacy_session_continues_on_another_replica_stays_its_callers_and_ends_everywhere_on_delete()
    {
        await using var issuer = await JwtIssuer.StartAsync();
        await using var backend = await SampleHttpHost.StartAsync();
        await using var fleet = await ReplicaFleet.StartAsync(2, issuer.AuthToml() + "\n" + backend.Backend("b"));
        var (alice, bob) = (issuer.Token("alice"), issuer.Token("bob"));
        using var http = new HttpClient();

        string session, first;
        using (var init = await http.SendAsync(fleet.Post(0, null, Init, alice), Ct))
        {
            Assert.Equal(HttpStatusCode.OK, init.StatusCode);
            session = init.Headers.GetValues("Mcp-Session-Id").Single();
            first = ReplicaFleet.InstanceOf(init);
        }

        (await http.SendAsync(fleet.Post(0, session, Initialized, alice), Ct)).EnsureSuccessStatusCode();

        // The shared record: expires with the idle timeout, names the caller by a hash only.
        await using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(fleet.Redis.ConnectionString);
        var db = redis.GetDatabase();
        var ttl = await db.KeyTimeToLiveAsync("mcp-proxy:session:" + session);
        Assert.InRange(ttl!.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(fleet[0].Config.Proxy.Sessions.IdleTimeoutSeconds));
        Assert.DoesNotContain("alice", (string?)await db.StringGetAsync("mcp-proxy:session:" + session), StringComparison.Ordinal);

        // Replica 2 has never seen the session: it continues it (the header names the other replica), then replica 1 again.
        var seen = new List<string>();
        foreach (var (replica, id) in new[] { (1, 2), (0, 3), (1, 4) })
        {
            using var call = await http.SendAsync(fleet.Post(replica, session, Echo(id, $"hop {id}"), alice), Ct);
            Assert.Equal(HttpStatusCode.OK, call.StatusCode);
            Assert.Contains($"hop {id}", await call.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
            seen.Add(ReplicaFleet.InstanceOf(call));
        }

        Assert.Equal(first, seen[1]);
        Assert.NotEqual(first, seen[0]);
        Assert.Equal(seen[0], seen[2]);

        // Another caller presenting the id gets "session not found", on a replica that holds a copy or not.
        using (var taken = await http.SendAsync(fleet.Post(1, session, Echo(5, "bob"), bob), Ct))
        {
            Assert.NotEqual(HttpStatusCode.OK, taken.StatusCode);
            Assert.DoesNotContain("\"bob\"", await taken.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        }

        await using (var third = await ProxyHost.StartAsync(
            issuer.AuthToml() + "\n" + backend.Backend("b"), configure: b => b.Configuration["ConnectionStrings:cache"] = fleet.Redis.ConnectionString))
        {
            using var taken = await http.SendAsync(ReplicaFleet.Post(third.McpEndpoint, session, Echo(6, "bob"), bob), Ct);
            Assert.Equal(HttpStatusCode.NotFound, taken.StatusCode);
        }

        // DELETE on replica 2 ends the session on replica 1 too.
        using (var delete = new HttpRequestMessage(HttpMethod.Delete, fleet[1].McpEndpoint))
        {
            delete.Headers.Add("Mcp-Session-Id", session);
            delete.Headers.Add("MCP-Protocol-Version", "2025-11-25");
            delete.Headers.Authorization = new("Bearer", alice);
            using var deleted = await http.SendAsync(delete, Ct);
            Assert.True(deleted.IsSuccessStatusCode, $"DELETE answered {deleted.StatusCode}");
        }

        // A DELETE that reaches a replica which never served the session ends it too.
        string other;
        using (var init = await http.SendAsync(fleet.Post(0, null, Init, alice), Ct))
        {
            other = init.Headers.GetValues("Mcp-Session-Id").Single();
        }

        (await http.SendAsync(fleet.Post(0, other, Initialized, alice), Ct)).EnsureSuccessStatusCode();
        using (var delete = new HttpRequestMessage(HttpMethod.Delete, fleet[1].McpEndpoint))
        {
            delete.Headers.Add("Mcp-Session-Id", other);
            delete.Headers.Add("MCP-Protocol-Version", "2025-11-25");
            delete.Headers.Authorization = new("Bearer", alice);
            using var deleted = await http.SendAsync(delete, Ct);
            Assert.True(deleted.IsSuccessStatusCode, $"DELETE on a replica without a copy answered {deleted.StatusCode}");
        }

        using (var gone = await http.SendAsync(fleet.Post(0, other, Echo(8, "after delete"), alice), Ct))
        {
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        }

        Assert.False(await db.KeyExistsAsync("mcp-proxy:session:" + session));
        Assert.True(await db.KeyExistsAsync("mcp-proxy:session-ended:" + session));
        foreach (var replica in new[] { 0, 1 })
        {
            using var gone = await http.SendAsync(fleet.Post(replica, session, Echo(7, "after delete"), alice), Ct);
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        }
    }

    [Fact]
    public async Task Legacy_sse_stream_resumes_with_last_event_id_on_another_replica()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var fleet = await ReplicaFleet.StartAsync(2, backend.Backend("b"));
        using var http = new HttpClient();

        string session;
        using (var init = await http.SendAsync(fleet.Post(0, null, Init, null), Ct))
        {
            session = init.Headers.GetValues("Mcp-Session-Id").Single();
        }

        (await http.SendAsync(fleet.Post(0, session, Initialized, null), Ct)).EnsureSuccessStatusCode();

        // The call's stream on replica 1: its events carry ids (the event store records them in Redis).
        using var call = await http.SendAsync(fleet.Post(0, session, Echo(2, "resume me"), null), Ct);
        var events = await call.Content.ReadAsStringAsync(Ct);
        var ids = events.Split('\n').Where(l => l.StartsWith("id: ", StringComparison.Ordinal)).Select(l => l["id: ".Length..].Trim()).ToList();
        Assert.True(ids.Count >= 2, "the stream's events carry ids: " + events);

        // The client lost the stream after the first event: it resumes on replica 2, which replays the rest from Redis.
        using var resume = new HttpRequestMessage(HttpMethod.Get, fleet[1].McpEndpoint);
        resume.Headers.Accept.ParseAdd("text/event-stream");
        resume.Headers.Add("Mcp-Session-Id", session);
        resume.Headers.Add("MCP-Protocol-Version", "2025-11-25");
        resume.Headers.Add("Last-Event-ID", ids[0]);
        using var replay = await http.SendAsync(resume, HttpCompletionOption.ResponseHeadersRead, Ct);
        Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
        Assert.NotEqual(ReplicaFleet.InstanceOf(call), ReplicaFleet.InstanceOf(replay));
        using var reader = new StreamReader(await replay.Content.ReadAsStreamAsync(Ct));
        string? line;
        var replayed = new List<string>();
        while ((line = await reader.ReadLineAsync(Ct)) is not null)
        {
            replayed.Add(line);
            if (line.Contains("resume me", StringComparison.Ordinal))
            {
                break;
            }
        }

        Assert.Contains(replayed, l => l.StartsWith("data: ", StringComparison.Ordinal) && l.Contains("\"id\":2", StringComparison.Ordinal) && l.Contains("resume me", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Session_outlives_the_replica_that_created_it()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var fleet = await ReplicaFleet.StartAsync(2, backend.Backend("b"));
        var target = 0;
        using var router = new ReplicaRouter(() => fleet[target].BaseAddress);
        using var http = new HttpClient(router);
        await using var client = await McpClient.CreateAsync(
            new HttpClientTransport(new HttpClientTransportOptions { Endpoint = fleet[0].McpEndpoint, TransportMode = HttpTransportMode.StreamableHttp }, http),
            new McpClientOptions { ProtocolVersion = "2025-11-25" },
            cancellationToken: Ct);
        var session = client.SessionId;
        Assert.NotNull(session);
        Assert.Equal("before", Text(await client.CallToolAsync("b/echo", Message("before"), cancellationToken: Ct)));
        var creator = router.AnsweredBy[^1];

        await fleet.StopAsync(0);
        target = 1;
        Assert.Equal("after", Text(await client.CallToolAsync("b/echo", Message("after"), cancellationToken: Ct)));
        Assert.Equal(session, client.SessionId);
        Assert.NotEqual(creator, router.AnsweredBy[^1]);
        var status = JsonNode.Parse(await http.GetStringAsync(new Uri(fleet[1].BaseAddress, "/admin/instance"), Ct))!;
        Assert.Equal(router.AnsweredBy[^1], (string?)status["instance"]);
        Assert.True((bool)status["shared"]!);
    }
}
