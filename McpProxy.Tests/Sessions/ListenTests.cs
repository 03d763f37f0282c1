using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using McpProxy.Sessions;
using McpProxy.Tests.Infrastructure;
using McpProxy.Tests.Security;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Sessions;

/// <summary>
/// <c>subscriptions/listen</c> (2026-07-28) through the real endpoint: a raw POST with the modern headers whose SSE
/// stream is read frame by frame — acknowledgement first, the backends' list changes and resource updates fanned in,
/// each tagged with the subscription id, only what was asked for and may be seen, keep-alive comments, and a clean end
/// when the host stops.
/// </summary>
public sealed class ListenTests
{
    private const string SubscriptionId = "io.modelcontextprotocol/subscriptionId";
    private static CancellationToken Ct => TestContext.Timeout(60);

    [Fact]
    public async Task The_acknowledgement_comes_first_and_a_backend_tool_list_change_follows_tagged()
    {
        await using var sample = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(sample.Backend("s"));
        await using var stream = await ListenStream.OpenAsync(proxy, 7, new JsonObject { ["toolsListChanged"] = true, ["promptsListChanged"] = true });

        var ack = await stream.NextEventAsync();
        Assert.Equal("notifications/subscriptions/acknowledged", (string?)ack["method"]);
        Assert.Equal(7, (int?)ack["params"]!["_meta"]![SubscriptionId]);
        Assert.True((bool?)ack["params"]!["notifications"]!["toolsListChanged"]);
        Assert.True((bool?)ack["params"]!["notifications"]!["promptsListChanged"]);
        Assert.Null(ack["params"]!["notifications"]!["resourcesListChanged"]);

        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);
        Assert.Equal("added", Text(await client.CallToolAsync("s/toggle_extra", cancellationToken: Ct)));

        var changed = await stream.NextEventAsync();
        Assert.Equal("notifications/tools/list_changed", (string?)changed["method"]);
        Assert.Equal(7, (int?)changed["params"]!["_meta"]![SubscriptionId]);
    }

    [Fact]
    public async Task A_resource_update_reaches_only_the_streams_granted_that_uri_and_only_the_types_asked_for()
    {
        await using var sample = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(sample.Backend("b"));
        await using var resources = await ListenStream.OpenAsync(proxy, "r", new JsonObject { ["resourceSubscriptions"] = new JsonArray("b/sample://items/1", "b/unknown", "nobackend://x") });
        await using var tools = await ListenStream.OpenAsync(proxy, "t", new JsonObject { ["toolsListChanged"] = true });
        var ack = await resources.NextEventAsync();
        Assert.Equal("r", (string?)ack["params"]!["_meta"]![SubscriptionId]);
        // Only the URIs that resolve to a backend's resource are granted ("b/unknown" is b's own URI "unknown": a URI it may have).
        var granted = ack["params"]!["notifications"]!["resourceSubscriptions"]!.AsArray().Select(n => (string?)n).ToList();
        Assert.Contains("b/sample://items/1", granted);
        Assert.DoesNotContain("nobackend://x", granted);
        Assert.Null(ack["params"]!["notifications"]!["toolsListChanged"]);
        await tools.NextEventAsync();

        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);
        // A tools list change: the tools stream hears it; the resource stream, which did not ask, must not.
        await client.CallToolAsync("b/toggle_extra", cancellationToken: Ct);
        Assert.Equal("notifications/tools/list_changed", (string?)(await tools.NextEventAsync())["method"]);

        // items/2 is not subscribed, items/1 is: the backend sends them in that order, so the first event is items/1.
        foreach (var uri in new[] { "sample://items/2", "sample://items/1" })
        {
            await client.CallToolAsync("b/notify", new Dictionary<string, object?> { ["updated_uri"] = uri }, cancellationToken: Ct);
        }

        var updated = await resources.NextEventAsync();
        Assert.Equal("notifications/resources/updated", (string?)updated["method"]);
        Assert.Equal("b/sample://items/1", (string?)updated["params"]!["uri"]);
        Assert.Equal("r", (string?)updated["params"]!["_meta"]![SubscriptionId]);
    }

    [Fact]
    public async Task A_resource_update_a_backend_sends_on_a_fast_path_call_s_stream_reaches_the_streams_granted_it()
    {
        // No MCP client reads a fast-path call's response: its notifications are handled as the client would have.
        await using var sample = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(sample.Backend("b"));
        await using var resources = await ListenStream.OpenAsync(proxy, "r", new JsonObject { ["resourceSubscriptions"] = new JsonArray("b/sample://items/1") });
        await resources.NextEventAsync();
        using var http = new HttpClient();

        var reply = await McpProxy.Tests.Eras.ModernHttp.PostAsync(
            http, proxy.McpEndpoint, "tools/call",
            new JsonObject { ["name"] = "b/notify", ["arguments"] = new JsonObject { ["updated_uri"] = "sample://items/1" } }, "b/notify", Ct);
        Assert.NotNull(reply.Result["content"]);
        Assert.Equal(1, proxy.Services.GetRequiredService<McpProxy.Backends.BackendRegistry>().Backends.Single().FastPathCalls);

        var updated = await resources.NextEventAsync();
        Assert.Equal("notifications/resources/updated", (string?)updated["method"]);
        Assert.Equal("b/sample://items/1", (string?)updated["params"]!["uri"]);
    }

    [Theory]
    [InlineData("2025-11-25", "resources/subscribe sample://items/1", "resources/unsubscribe sample://items/1")]
    [InlineData("auto", "subscriptions/listen sample://items/1", null)]
    public async Task A_granted_uri_subscribes_its_backend_while_a_stream_watches_it(string protocol, string subscribed, string? unsubscribed)
    {
        // A backend sends resources/updated only for what it was subscribed to: a listen stream's grant must reach it
        // (legacy backend: resources/subscribe; modern backend: its own listen stream's resourceSubscriptions).
        await using var sample = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(sample.Backend("b", $"protocol = \"{protocol}\""));
        await using (var stream = await ListenStream.OpenAsync(proxy, "s", new JsonObject { ["resourceSubscriptions"] = new JsonArray("b/sample://items/1") }))
        {
            await stream.NextEventAsync(); // acknowledged only once the backend is subscribed
            Assert.Contains(subscribed, sample.ReceivedUris);
        }

        if (unsubscribed is not null)
        {
            // The last stream gone and no legacy session subscribed: the backend is unsubscribed.
            await WaitUntil(() => sample.ReceivedUris.Contains(unsubscribed));
        }
    }

    [Fact]
    public async Task A_role_that_may_not_use_a_resource_is_not_granted_its_updates()
    {
        await using var issuer = await JwtIssuer.StartAsync();
        await using var sample = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync($"""
            {issuer.AuthToml(AuthorizationTests.Roles)}

            {sample.Backend("b")}
            """);
        var asked = new JsonObject { ["resourceSubscriptions"] = new JsonArray("b/sample://items/1", "b/sample://free") };
        // The reader's role denies b/sample://items/ (and b/sample://info); the admin's allows everything.
        await using var reader = await ListenStream.OpenAsync(proxy, 1, asked.DeepClone().AsObject(), issuer.Token("rita", scope: "openid mcp:read"));
        await using var admin = await ListenStream.OpenAsync(proxy, 2, asked.DeepClone().AsObject(), issuer.Token("adam", scope: "mcp:admin"));
        var readerAck = await reader.NextEventAsync();
        Assert.Equal(["b/sample://free"], readerAck["params"]!["notifications"]!["resourceSubscriptions"]!.AsArray().Select(n => (string?)n));
        Assert.Equal(2, (await admin.NextEventAsync())["params"]!["notifications"]!["resourceSubscriptions"]!.AsArray().Count);

        await using var client = await proxy.ConnectAsync(cancellationToken: Ct, bearerToken: issuer.Token("adam", scope: "mcp:admin"));
        foreach (var uri in new[] { "sample://items/1", "sample://free" })
        {
            await client.CallToolAsync("b/notify", new Dictionary<string, object?> { ["updated_uri"] = uri }, cancellationToken: Ct);
        }

        Assert.Equal("b/sample://items/1", (string?)(await admin.NextEventAsync())["params"]!["uri"]);
        Assert.Equal("b/sample://free", (string?)(await admin.NextEventAsync())["params"]!["uri"]);
        // The reader's first update is the one it may see: items/1 never reached it.
        Assert.Equal("b/sample://free", (string?)(await reader.NextEventAsync())["params"]!["uri"]);
    }

    [Fact]
    public async Task A_silent_stream_gets_keep_alive_comments_on_the_injected_clock()
    {
        var clock = new FakeTimeProvider();
        await using var sample = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(
            sample.Backend("s"),
            configure: b => b.Services.Configure<ListenOptions>(o => { o.Time = clock; o.KeepAliveInterval = TimeSpan.FromSeconds(15); }));
        await using var stream = await ListenStream.OpenAsync(proxy, 3, new JsonObject { ["toolsListChanged"] = true });

        // Nothing before the acknowledgement, even after a long silence on the clock... the SDK writes first.
        Assert.Equal("notifications/subscriptions/acknowledged", (string?)(await stream.NextAsync()).Event!["method"]);
        Assert.Equal(0, stream.PendingComments);

        clock.Advance(TimeSpan.FromSeconds(15));
        Assert.True((await stream.NextAsync()).IsComment);
        clock.Advance(TimeSpan.FromSeconds(15));
        Assert.True((await stream.NextAsync()).IsComment);

        // A notification after the comments is still a whole event.
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);
        await client.CallToolAsync("s/toggle_extra", cancellationToken: Ct);
        Assert.Equal("notifications/tools/list_changed", (string?)(await stream.NextEventAsync())["method"]);
    }

    [Fact]
    public async Task The_stream_ends_with_the_final_result_when_the_host_stops()
    {
        await using var sample = await SampleHttpHost.StartAsync();
        var proxy = await ProxyHost.StartAsync(sample.Backend("s"));
        try
        {
            await using var stream = await ListenStream.OpenAsync(proxy, 9, new JsonObject { ["toolsListChanged"] = true });
            await stream.NextEventAsync();

            var stopping = proxy.App.StopAsync(Ct);
            var final = await stream.NextEventAsync();
            Assert.Equal(9, (int?)final["id"]);
            Assert.Equal(9, (int?)final["result"]!["_meta"]![SubscriptionId]);
            Assert.Null(final["error"]);
            Assert.True(await stream.EndedAsync());
            await stopping;
        }
        finally
        {
            await proxy.DisposeAsync();
        }
    }

    /// <summary>One raw <c>subscriptions/listen</c> POST and its SSE frames (events and <c>:</c> comments), read in the background.</summary>
    private sealed class ListenStream : IAsyncDisposable
    {
        private readonly HttpClient _http;
        private readonly HttpResponseMessage _response;
        private readonly Channel<Frame> _frames = Channel.CreateUnbounded<Frame>();
        private readonly Task _reader;

        private ListenStream(HttpClient http, HttpResponseMessage response)
        {
            _http = http;
            _response = response;
            _reader = Task.Run(ReadAsync);
        }

        public int PendingComments => _frames.Reader.Count;

        public static async Task<ListenStream> OpenAsync(ProxyHost proxy, JsonNode id, JsonObject notifications, string? bearer = null)
        {
            var body = new JsonObject
            {
                ["jsonrpc"] = "2.0",
                ["id"] = id,
                ["method"] = "subscriptions/listen",
                ["params"] = new JsonObject
                {
                    ["notifications"] = notifications,
                    ["_meta"] = new JsonObject
                    {
                        ["io.modelcontextprotocol/protocolVersion"] = "2026-07-28",
                        ["io.modelcontextprotocol/clientCapabilities"] = new JsonObject(),
                        ["io.modelcontextprotocol/clientInfo"] = new JsonObject { ["name"] = "listen-test", ["version"] = "1" },
                    },
                },
            };
            var request = new HttpRequestMessage(HttpMethod.Post, proxy.McpEndpoint)
            {
                Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
            };
            request.Headers.Accept.ParseAdd("application/json, text/event-stream");
            request.Headers.Add("MCP-Protocol-Version", "2026-07-28");
            request.Headers.Add("Mcp-Method", "subscriptions/listen");
            if (bearer is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
            }

            var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
            var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);
            if (!response.IsSuccessStatusCode)
            {
                Assert.Fail($"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            }

            Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
            Assert.False(response.Headers.Contains("Mcp-Session-Id"));
            return new ListenStream(http, response);
        }

        public Task<Frame> NextAsync() => NextAsync(Ct);

        private async Task<Frame> NextAsync(CancellationToken deadline)
        {
            if (!await _frames.Reader.WaitToReadAsync(deadline) || !_frames.Reader.TryRead(out var frame))
            {
                throw new InvalidOperationException("The stream ended.");
            }

            return frame;
        }

        /// <summary>The next event, skipping keep-alive comments.</summary>
        /// <remarks>
        /// One deadline for the whole wait: keep-alive comments (every 15 s) must not restart it, or a test waiting for
        /// an event that never comes would hang instead of failing.
        /// </remarks>
        public async Task<JsonObject> NextEventAsync()
        {
            var deadline = Ct;
            while (true)
            {
                var frame = await NextAsync(deadline);
                if (frame.Event is { } e)
                {
                    return e;
                }
            }
        }

        /// <summary>Whether the server closed the stream (after any frames left).</summary>
        public async Task<bool> EndedAsync()
        {
            var deadline = Ct;
            while (await _frames.Reader.WaitToReadAsync(deadline))
            {
                if (_frames.Reader.TryRead(out var frame) && frame.Event is not null)
                {
                    return false;
                }
            }

            return true;
        }

        private async Task ReadAsync()
        {
            try
            {
                using var reader = new StreamReader(await _response.Content.ReadAsStreamAsync());
                var data = new StringBuilder();
                while (await reader.ReadLineAsync() is { } line)
                {
                    if (line.StartsWith(':'))
                    {
                        _frames.Writer.TryWrite(new Frame(null));
                    }
                    else if (line.StartsWith("data:", StringComparison.Ordinal))
                    {
                        data.Append(line.AsSpan(5).TrimStart(' '));
                    }
                    else if (line.Length == 0 && data.Length > 0)
                    {
                        _frames.Writer.TryWrite(new Frame(JsonNode.Parse(data.ToString())!.AsObject()));
                        data.Clear();
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException or ObjectDisposedException or OperationCanceledException)
            {
            }
            finally
            {
                _frames.Writer.TryComplete();
            }
        }

        public async ValueTask DisposeAsync()
        {
            _response.Dispose();
            _http.Dispose();
            await _reader;
        }
    }

    /// <summary>An SSE event (parsed JSON-RPC message) or, without one, a comment line.</summary>
    internal sealed record Frame(JsonObject? Event)
    {
        public bool IsComment => Event is null;
    }
}
