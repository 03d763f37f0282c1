// MCP9005: logging is deprecated from protocol 2026-07-28; clients and backends on 2025-11-25 use it.
#pragma warning disable MCP9005

using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using McpProxy.Tests.Infrastructure;
using McpProxy.Tests.Security;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Sessions;

/// <summary>
/// What backends send reaches only the callers it belongs to: log messages, log levels, resource updates and progress,
/// with two (or more) client sessions on one proxy and real backends; each session's outbound queue is bounded.
/// Runs alone: the bounded-queue test needs the flooded session's socket to fill, which parallel tests' load can delay
/// past its deadline (seen once in seven full runs).
/// </summary>
[Collection(AloneCollection.Name)]
public sealed partial class RelayIsolationTests
{
    private static CancellationToken Ct => TestContext.Timeout(90);

    [GeneratedRegex("^mcp-proxy-[0-9a-f]{32}$")]
    private static partial Regex ProxyProgressToken();

    [Fact]
    public async Task A_backend_log_message_reaches_only_the_session_whose_call_is_in_flight()
    {
        await using var sample = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(sample.Backend("s"));
        await using var a = await Listener.ConnectAsync(proxy);
        await using var b = await Listener.ConnectAsync(proxy);

        // Each session first sees a line of its own (so both are listening), then one more each.
        await a.LogAsync("s", "hello-a");
        await WaitUntil(() => a.LogData.Contains("hello-a"));
        await b.LogAsync("s", "hello-b");
        await WaitUntil(() => b.LogData.Contains("hello-b"));
        await a.LogAsync("s", "from-a");
        await WaitUntil(() => a.LogData.Contains("from-a"));
        await b.LogAsync("s", "from-b");
        await WaitUntil(() => b.LogData.Contains("from-b"));

        Assert.DoesNotContain("hello-a", b.LogData);
        Assert.DoesNotContain("from-a", b.LogData);
        Assert.DoesNotContain("hello-b", a.LogData);
        Assert.All(a.Logs, l => Assert.Equal("s/sample", l.Logger)); // the backend's logger name, namespaced
    }

    [Fact]
    public async Task A_session_log_level_is_its_own_and_cannot_change_what_another_session_receives()
    {
        await using var sample = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(sample.Backend("s"));
        await using var a = await Listener.ConnectAsync(proxy);
        await using var b = await Listener.ConnectAsync(proxy);

        // B only wants errors: A (which never set a level) still gets its info lines.
        await b.Client.SetLoggingLevelAsync(LoggingLevel.Error, cancellationToken: Ct);
        await a.LogAsync("s", "a-info", "info");
        await WaitUntil(() => a.LogData.Contains("a-info"));

        // A wants everything: B still gets only errors.
        await a.Client.SetLoggingLevelAsync(LoggingLevel.Debug, cancellationToken: Ct);
        await a.LogAsync("s", "a-debug", "debug");
        await WaitUntil(() => a.LogData.Contains("a-debug"));
        await b.LogAsync("s", "b-debug", "debug");
        await b.LogAsync("s", "b-warning", "warning");
        await b.LogAsync("s", "b-error", "error");
        await WaitUntil(() => b.LogData.Contains("b-error"));
        Assert.DoesNotContain("b-debug", b.LogData);
        Assert.DoesNotContain("b-warning", b.LogData);
        Assert.All(b.Logs, l => Assert.True(l.Level >= LoggingLevel.Error, $"B got a {l.Level} line"));
    }

    [Fact]
    public async Task Resource_updates_reach_only_sessions_subscribed_and_allowed_and_only_from_the_backend_that_owns_the_uri()
    {
        await using var issuer = await JwtIssuer.StartAsync();
        await using var owner = await SampleHttpHost.StartAsync();
        await using var other = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync($"""
            {issuer.AuthToml("""
                [[auth.roles]]
                name = "reader"
                deny_resources = ["b/sample://info"]

                [[auth.roles]]
                name = "admin"

                [auth.role_mapping]
                claim = "scope"
                mapping = { "mcp:read" = "reader", "mcp:admin" = "admin" }
                """)}

            {owner.Backend("b")}
            {other.Backend("p", "namespaced = false")}
            """);
        await using var subscriber = await Listener.ConnectAsync(proxy, issuer.Token("sam", scope: "mcp:admin"));
        await using var quitter = await Listener.ConnectAsync(proxy, issuer.Token("quinn", scope: "mcp:admin"));
        await using var reader = await Listener.ConnectAsync(proxy, issuer.Token("rita", scope: "mcp:read"));

        await subscriber.Client.SubscribeToResourceAsync("b/sample://info", cancellationToken: Ct);
        await subscriber.Client.SubscribeToResourceAsync("b/sample://items/1", cancellationToken: Ct);
        await quitter.Client.SubscribeToResourceAsync("b/sample://info", cancellationToken: Ct);
        await quitter.Client.UnsubscribeFromResourceAsync("b/sample://info", cancellationToken: Ct);
        await quitter.Client.SubscribeToResourceAsync("b/sample://items/2", cancellationToken: Ct);
        await Assert.ThrowsAsync<McpProtocolException>(() => reader.Client.SubscribeToResourceAsync("b/sample://info", cancellationToken: Ct));
        await reader.Client.SubscribeToResourceAsync("b/sample://items/3", cancellationToken: Ct);

        // A namespaced = false backend naming b's resource cannot make the proxy announce an update of it.
        await subscriber.Client.CallToolAsync("notify", new Dictionary<string, object?> { ["updated_uri"] = "b/sample://info" }, cancellationToken: Ct);
        // b's own update of sample://info, then one marker per session, all in the order b sends them.
        foreach (var uri in new[] { "sample://info", "sample://items/1", "sample://items/2", "sample://items/3" })
        {
            await subscriber.Client.CallToolAsync("b/notify", new Dictionary<string, object?> { ["updated_uri"] = uri }, cancellationToken: Ct);
        }

        await WaitUntil(() => subscriber.Updated.Contains("b/sample://items/1"));
        await WaitUntil(() => quitter.Updated.Contains("b/sample://items/2"));
        await WaitUntil(() => reader.Updated.Contains("b/sample://items/3"));
        Assert.Equal(["b/sample://info", "b/sample://items/1"], subscriber.Updated);
        Assert.Equal(["b/sample://items/2"], quitter.Updated);
        Assert.Equal(["b/sample://items/3"], reader.Updated);
    }

    [Fact]
    public async Task Progress_another_backend_sends_with_a_calls_token_does_not_reach_that_caller()
    {
        await using var x = await SampleHttpHost.StartAsync();
        await using var y = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(x.Backend("x") + y.Backend("y"));
        await using var a = await Listener.ConnectAsync(proxy);
        await using var b = await Listener.ConnectAsync(proxy);

        // A's call is held on x; x tells A (in a progress message) the token the proxy gave it.
        var held = a.Client.SendRequestAsync(
            new JsonRpcRequest
            {
                Id = new RequestId("held"),
                Method = RequestMethods.ToolsCall,
                Params = new JsonObject { ["name"] = "x/hold", ["arguments"] = new JsonObject { ["name"] = "h1" }, ["_meta"] = new JsonObject { ["progressToken"] = "a-1" } },
            },
            Ct);
        await WaitUntil(() => a.Progress.Any(p => p.Message.StartsWith("token:", StringComparison.Ordinal)));
        var backendToken = a.Progress.First(p => p.Message.StartsWith("token:", StringComparison.Ordinal)).Message["token:".Length..];
        Assert.Matches(ProxyProgressToken(), backendToken); // 128 random bits, not a counter

        // y (another backend) reports progress under that token: it must not reach A.
        var sent = Json(await b.Client.CallToolAsync(
            "y/notify", new Dictionary<string, object?> { ["progress_token"] = backendToken, ["progress_message"] = "forged" }, cancellationToken: Ct));
        Assert.Equal(1, sent.GetProperty("progress").GetInt32());

        await b.Client.CallToolAsync("x/release", new Dictionary<string, object?> { ["name"] = "h1" }, cancellationToken: Ct);
        await held;
        await WaitUntil(() => a.Progress.Any(p => p.Message == "released"));
        Assert.DoesNotContain(a.Progress, p => p.Message == "forged");
        Assert.All(a.Progress, p => Assert.Equal("a-1", p.Token));
        Assert.Empty(b.Progress);
    }

    [Fact]
    public async Task Client_meta_is_rewritten_on_every_forwarded_request_completions_included()
    {
        await using var x = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(x.Backend("x"));
        await using var client = await Listener.ConnectAsync(proxy);
        const string crafted = "mcp-proxy-1";
        JsonObject Meta(bool progress)
        {
            var meta = new JsonObject
            {
                ["io.modelcontextprotocol/related-task"] = new JsonObject { ["taskId"] = "someone-elses" },
                ["custom"] = "kept",
            };
            if (progress)
            {
                meta["progressToken"] = crafted;
            }

            return meta;
        }

        // tools/call with a token crafted to look like one of the proxy's: the backend gets a fresh one instead.
        var withProgress = await EchoMetaAsync(client.Client, Meta(progress: true));
        Assert.Matches(ProxyProgressToken(), (string?)withProgress["progressToken"]);
        Assert.Null(withProgress["io.modelcontextprotocol/related-task"]);
        Assert.Equal("kept", (string?)withProgress["custom"]);

        // Without a progress request: no token at all, and reserved keys still stay behind.
        var without = await EchoMetaAsync(client.Client, Meta(progress: false));
        Assert.Null(without["progressToken"]);
        Assert.Null(without["io.modelcontextprotocol/related-task"]);
        Assert.Equal("kept", (string?)without["custom"]);

        // completion/complete too (it used to forward the caller's _meta as is).
        var response = await client.Client.SendRequestAsync(
            new JsonRpcRequest
            {
                Id = new RequestId("complete"),
                Method = RequestMethods.CompletionComplete,
                Params = new JsonObject
                {
                    ["ref"] = new JsonObject { ["type"] = "ref/prompt", ["name"] = "x/greet" },
                    ["argument"] = new JsonObject { ["name"] = "echo_meta", ["value"] = "" },
                    ["_meta"] = Meta(progress: true),
                },
            },
            Ct);
        var completion = JsonSerializer.Deserialize<CompleteResult>(response.Result, McpJsonUtilities.DefaultOptions)!;
        var completionMeta = JsonNode.Parse(Assert.Single(completion.Completion.Values))!.AsObject();
        Assert.Matches(ProxyProgressToken(), (string?)completionMeta["progressToken"]);
        Assert.Null(completionMeta["io.modelcontextprotocol/related-task"]);
        Assert.Equal("kept", (string?)completionMeta["custom"]);

        static async Task<JsonObject> EchoMetaAsync(McpClient client, JsonObject meta)
        {
            var response = await client.SendRequestAsync(
                new JsonRpcRequest
                {
                    Id = new RequestId(Guid.NewGuid().ToString()),
                    Method = RequestMethods.ToolsCall,
                    Params = new JsonObject { ["name"] = "x/echo_meta", ["arguments"] = new JsonObject(), ["_meta"] = meta },
                },
                Ct);
            var result = JsonSerializer.Deserialize<CallToolResult>(response.Result, McpJsonUtilities.DefaultOptions)!;
            return JsonNode.Parse(Text(result))!.AsObject();
        }
    }

    [Fact]
    public async Task A_session_that_does_not_read_gets_a_bounded_queue_and_the_drops_are_counted()
    {
        await using var sample = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync("""
            [proxy]
            name = "flooded"
            [proxy.listen]
            port = 0
            [observability.metrics]
            enabled = true

            """ + sample.Backend("s"));
        using var admin = new HttpClient { BaseAddress = proxy.BaseAddress };
        await using var other = await Listener.ConnectAsync(proxy);
        await other.LogAsync("s", "before");
        await WaitUntil(() => other.LogData.Contains("before"));

        // A raw session whose caller never reads the response of its call: the backend floods it with log lines. Its
        // socket has a small receive buffer (Linux would otherwise let the kernel buffer tens of MB for it).
        using var slow = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = async (context, ct) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveBufferSize = 16 * 1024 };
                try
                {
                    await socket.ConnectAsync(context.DnsEndPoint, ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        });
        using var init = await slow.SendAsync(InitializeRequest(proxy.McpEndpoint), Ct);
        var sessionId = init.Headers.GetValues("Mcp-Session-Id").Single();
        using (var initialized = await slow.SendAsync(SessionPost(proxy.McpEndpoint, sessionId, """{"jsonrpc":"2.0","method":"notifications/initialized"}"""), Ct))
        {
            Assert.True(initialized.IsSuccessStatusCode);
        }

        const int Lines = 3000;
        using var flood = await slow.SendAsync(
            SessionPost(proxy.McpEndpoint, sessionId, new JsonObject
            {
                ["jsonrpc"] = "2.0",
                ["id"] = 2,
                ["method"] = "tools/call",
                ["params"] = new JsonObject { ["name"] = "s/notify", ["arguments"] = new JsonObject { ["log_count"] = Lines, ["log_size"] = 8192, ["log_message"] = "flood" } },
            }.ToJsonString()),
            HttpCompletionOption.ResponseHeadersRead,
            Ct);

        // The proxy holds at most its queue for that session (1000) plus what the transport buffers (its send buffer:
        // a few MB, a few hundred of these lines); the rest is dropped, and counted.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        double dropped;
        while ((dropped = await DroppedAsync(admin)) < Lines - 1000 - 1000)
        {
            if (DateTime.UtcNow > deadline)
            {
                var body = await flood.Content.ReadAsStringAsync(Ct);
                Assert.Fail($"only {dropped} of {Lines} lines dropped after 60 s; the flooded call answered: {body[..Math.Min(body.Length, 300)]}…{body[Math.Max(0, body.Length - 500)..]}");
            }

            await Task.Delay(100, Ct);
        }

        // Another session is not held up by it.
        await other.LogAsync("s", "still-flowing");
        await WaitUntil(() => other.LogData.Contains("still-flowing"));

        static async Task<double> DroppedAsync(HttpClient admin)
        {
            var text = await admin.GetStringAsync("/admin/metrics", Ct);
            var line = text.Split('\n').FirstOrDefault(l =>
                l.StartsWith("mcp_proxy_session_notifications_dropped_total{", StringComparison.Ordinal) && l.Contains("proxy=\"flooded\"", StringComparison.Ordinal));
            return line is null ? 0 : double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
        }
    }

    private static JsonElement Json(CallToolResult result) => JsonDocument.Parse(Text(result)).RootElement.Clone();

    /// <summary>A client session on the proxy that records the log lines, progress and resource updates it receives.</summary>
    private sealed class Listener : IAsyncDisposable
    {
        private readonly ConcurrentQueue<LoggingMessageNotificationParams> _logs = new();
        private readonly ConcurrentQueue<(string Token, string Message)> _progress = new();
        private readonly ConcurrentQueue<string> _updated = new();

        public McpClient Client { get; private set; } = null!;
        public IReadOnlyList<LoggingMessageNotificationParams> Logs => [.. _logs];
        public IReadOnlyList<string> LogData => [.. _logs.Select(l => l.Data is { ValueKind: JsonValueKind.String } d ? d.GetString()! : "")];
        public IReadOnlyList<(string Token, string Message)> Progress => [.. _progress];
        public IReadOnlyList<string> Updated => [.. _updated];

        public static async Task<Listener> ConnectAsync(ProxyHost proxy, string? bearerToken = null)
        {
            var listener = new Listener();
            listener.Client = await proxy.ConnectAsync(
                new McpClientOptions
                {
                    Handlers = new McpClientHandlers
                    {
                        NotificationHandlers =
                        [
                            new(NotificationMethods.LoggingMessageNotification, (n, _) =>
                            {
                                listener._logs.Enqueue(JsonSerializer.Deserialize<LoggingMessageNotificationParams>(n.Params, McpJsonUtilities.DefaultOptions)!);
                                return default;
                            }),
                            new(NotificationMethods.ProgressNotification, (n, _) =>
                            {
                                listener._progress.Enqueue((n.Params!["progressToken"]!.ToString(), (string?)n.Params["message"] ?? ""));
                                return default;
                            }),
                            new(NotificationMethods.ResourceUpdatedNotification, (n, _) =>
                            {
                                listener._updated.Enqueue((string)n.Params!["uri"]!);
                                return default;
                            }),
                        ],
                    },
                },
                Ct,
                bearerToken);
            return listener;
        }

        /// <summary>Has the backend send one log line to this session's call.</summary>
        public async Task LogAsync(string backend, string data, string level = "info") =>
            await Client.CallToolAsync(
                backend + "/notify",
                new Dictionary<string, object?> { ["log_count"] = 1, ["log_message"] = data, ["log_level"] = level },
                cancellationToken: Ct);

        public ValueTask DisposeAsync() => Client.DisposeAsync();
    }
}
