using McpProxy.Calls;
using System.Text;
using System.Text.Json.Nodes;
using McpProxy.Backends;
using McpProxy.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Backends;

/// <summary>
/// <c>[security] max_result_size</c>: a backend's result over the limit becomes a clear JSON-RPC error naming the
/// backend and the limit — over stdio and over HTTP — while results under it pass and the backend keeps serving.
/// </summary>
public sealed class ResultSizeTests
{
    private static CancellationToken Ct => TestContext.Timeout(90);

    private const string Limit = """
        [security]
        max_result_size = 65536

        """;

    [Fact]
    public async Task A_stdio_backend_result_over_the_limit_is_a_clear_error_and_the_child_keeps_serving()
    {
        await using var proxy = await ProxyHost.StartAsync(Limit + TestPaths.SampleStdioBackend("s"));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);
        await AssertBoundedAsync(proxy, client, "s");
    }

    [Fact]
    public async Task An_http_backend_result_over_the_limit_is_a_clear_error_and_the_session_keeps_serving()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(Limit + backend.Backend("h") + """

            [backends.retry]
            max_retries = 3
            initial_backoff_ms = 10

            """);
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);
        await AssertBoundedAsync(proxy, client, "h");

        // Not retried, though `large` is idempotent and retry is on: the same call would be as large again.
        var calls = backend.ToolCalls;
        await Assert.ThrowsAsync<McpProtocolException>(() =>
            client.CallToolAsync("h/large", new Dictionary<string, object?> { ["size_kb"] = 1024 }, cancellationToken: Ct).AsTask());
        Assert.Equal(calls + 1, backend.ToolCalls);
    }

    private static async Task AssertBoundedAsync(ProxyHost proxy, McpClient client, string name)
    {
        var pid = (long)JsonNode.Parse(Text(await client.CallToolAsync($"{name}/stats", cancellationToken: Ct)))!["pid"]!;

        // Under the limit: passes whole.
        var small = await client.CallToolAsync($"{name}/large", new Dictionary<string, object?> { ["size_kb"] = 32 }, cancellationToken: Ct);
        Assert.Equal(32 * 1024, Text(small).Length);

        // Over it (a 1 MiB result against 64 KiB): the caller gets the error naming backend, limit and key.
        var error = await Assert.ThrowsAsync<McpProtocolException>(() =>
            client.CallToolAsync($"{name}/large", new Dictionary<string, object?> { ["size_kb"] = 1024 }, cancellationToken: Ct).AsTask());
        Assert.Contains($"Backend '{name}' returned a result larger than 65536 bytes ([security] max_result_size)", error.Message);
        Assert.Equal(McpErrorCode.InternalError, error.ErrorCode);

        // The backend connection survived: same process, still ready, other calls work.
        Assert.Equal("after", Text(await client.CallToolAsync($"{name}/echo", Message("after"), cancellationToken: Ct)));
        Assert.Equal(pid, (long)JsonNode.Parse(Text(await client.CallToolAsync($"{name}/stats", cancellationToken: Ct)))!["pid"]!);
        var backend = proxy.Services.GetRequiredService<BackendRegistry>().Backends.Single(b => b.Name == name);
        Assert.Equal(BackendState.Ready, backend.State);
        Assert.Equal(0, backend.Restarts);
    }

    [Fact]
    public void The_id_scanner_finds_the_top_level_id_wherever_it_is()
    {
        Assert.Equal("7", Scan("""{"jsonrpc":"2.0","result":{"id":1,"x":[{"id":2}]},"id":7}""", out var response));
        Assert.True(response);
        Assert.Equal("a\"b", Scan("""{"id" : "a\"b" , "error":{"code":1}}""", out response));
        Assert.True(response);
        Assert.Equal("3", Scan("""{"jsonrpc":"2.0","id":3,"method":"sampling/createMessage","params":{"result":1}}""", out response));
        Assert.False(response);
        Assert.Null(Scan("""{"jsonrpc":"2.0","method":"notifications/message","params":{"id":5}}""", out _));

        // Fed in pieces of any size, the answer is the same.
        var json = Encoding.UTF8.GetBytes("""{"result":{"text":"x\\\"}y"},"id":"req-9"}""");
        for (var piece = 1; piece <= json.Length; piece++)
        {
            var scanner = new JsonRpcIdScanner();
            for (var i = 0; i < json.Length; i += piece)
            {
                scanner.Feed(json.AsSpan(i, Math.Min(piece, json.Length - i)));
            }

            Assert.Equal("req-9", scanner.Id?.ToString());
        }
    }

    [Fact]
    public async Task An_sse_stream_hands_on_events_under_the_limit_and_drops_or_refuses_one_over_it()
    {
        var big = new string('x', 200);
        var text = $"id: 1\ndata: {{\"a\":1}}\n\nid: 2\ndata: \"{big}\"\r\n\r\nid: 3\r\ndata: {{\"c\":3}}\r\n\r\n";

        var dropped = 0;
        using (var dropping = new SseEventLimitStream(new MemoryStream(Encoding.UTF8.GetBytes(text)), 100, () => dropped++, () => new IOException("too large")))
        {
            var output = await new StreamReader(dropping).ReadToEndAsync(Ct);
            // (the \n of the last \r\n, between events, is dropped: the \r already ended the line)
            Assert.Equal("id: 1\ndata: {\"a\":1}\n\nid: 3\r\ndata: {\"c\":3}\r\n\r", output);
            Assert.Equal(1, dropped);
        }

        using var refusing = new SseEventLimitStream(new MemoryStream(Encoding.UTF8.GetBytes(text)), 100, null, () => new InvalidDataException("too large"));
        await Assert.ThrowsAsync<InvalidDataException>(() => new StreamReader(refusing).ReadToEndAsync(Ct));
    }

    [Fact]
    public async Task A_passed_through_sse_stream_hands_on_every_byte_and_refuses_only_an_event_over_the_limit()
    {
        // Many events under the limit add up to far more than it: each is bounded on its own, whatever its line endings.
        var small = string.Concat(Enumerable.Range(0, 50).Select(i => i % 3 == 0 ? $"id: {i}\ndata: {{\"n\":{i}}}\n\n" : i % 3 == 1 ? $"id: {i}\r\ndata: {{\"n\":{i}}}\r\n\r\n" : $"id: {i}\rdata: {{\"n\":{i}}}\r\r"));
        Assert.True(small.Length > 1000);
        for (var piece = 1; piece <= 7; piece++)
        {
            using var bounded = new SseEventBoundStream(new PieceStream(Encoding.UTF8.GetBytes(small), piece), 40, () => new InvalidDataException("too large"));
            Assert.Equal(small, await new StreamReader(bounded).ReadToEndAsync(Ct));
        }

        // One event over the limit, split across lines and reads: refused, wherever the reads cut it.
        var big = $"id: 1\ndata: {{\"a\":1}}\n\nid: 2\ndata: {new string('x', 30)}\ndata: {new string('y', 30)}\r\n\r\n";
        for (var piece = 1; piece <= 7; piece++)
        {
            using var refusing = new SseEventBoundStream(new PieceStream(Encoding.UTF8.GetBytes(big), piece), 60, () => new InvalidDataException("too large"));
            await Assert.ThrowsAsync<InvalidDataException>(() => new StreamReader(refusing).ReadToEndAsync(Ct));
        }
    }

    /// <summary>A stream that hands out its bytes at most <c>piece</c> at a time.</summary>
    private sealed class PieceStream(byte[] bytes, int piece) : MemoryStream(bytes)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, piece));

        public override int Read(Span<byte> buffer) => base.Read(buffer[..Math.Min(buffer.Length, piece)]);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, piece)], cancellationToken);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            base.ReadAsync(buffer, offset, Math.Min(count, piece), cancellationToken);
    }

    [Fact]
    public async Task Http_bodies_over_the_limit_fail_with_the_clear_error_and_get_streams_drop_only_the_oversized_event()
    {
        var big = new string('x', 100_000);
        var (app, address) = await LoopbackWebApp.StartAsync(web =>
        {
            web.MapPost("/chunked", async (HttpContext http) =>
            {
                http.Response.ContentType = "application/json";
                await http.Response.WriteAsync($"{{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"{big}\"}}");
            });
            web.MapPost("/length", (HttpContext http) =>
            {
                var body = Encoding.UTF8.GetBytes($"{{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"{big}\"}}");
                http.Response.ContentLength = body.Length;
                return http.Response.Body.WriteAsync(body).AsTask();
            });
            web.MapPost("/small", () => Results.Text("""{"jsonrpc":"2.0","id":1,"result":{}}""", "application/json"));
            web.MapGet("/events", async (HttpContext http) =>
            {
                http.Response.ContentType = "text/event-stream";
                await http.Response.WriteAsync("data: {\"n\":1}\n\n");
                await http.Response.WriteAsync($"data: \"{big}\"\n\n");
                await http.Response.WriteAsync("data: {\"n\":3}\n\n");
            });
        });
        await using var _ = app;
        using var backendHttp = new BackendHttp();
        using var client = backendHttp.CreateClient("h", 65536, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, _ => { });
        const string expected = "Backend 'h' returned a result larger than 65536 bytes ([security] max_result_size)";

        // As the SDK reads them: headers first, then the body as a stream.
        Task<HttpResponseMessage> PostAsync(string path) =>
            client.SendAsync(new HttpRequestMessage(HttpMethod.Post, new Uri(address, path)), HttpCompletionOption.ResponseHeadersRead, Ct);

        using (var small = await PostAsync("/small"))
        {
            Assert.Equal("""{"jsonrpc":"2.0","id":1,"result":{}}""", await small.Content.ReadAsStringAsync(Ct));
        }

        // A chunked body is cut off as it is read; the error arrives as itself, not wrapped.
        using (var chunked = await PostAsync("/chunked"))
        {
            var error = await Assert.ThrowsAsync<ResultTooLargeException>(() => chunked.Content.ReadAsStringAsync(Ct));
            Assert.Equal(expected, error.Message);
        }

        // A Content-Length over the limit is refused before the body is read.
        Assert.Equal(expected, (await Assert.ThrowsAsync<ResultTooLargeException>(() => PostAsync("/length"))).Message);

        // The GET stream (notifications) drops the oversized event and goes on.
        using var events = await client.GetAsync(new Uri(address, "/events"), HttpCompletionOption.ResponseHeadersRead, Ct);
        Assert.Equal("data: {\"n\":1}\n\ndata: {\"n\":3}\n\n", await events.Content.ReadAsStringAsync(Ct));
    }

    private static string? Scan(string json, out bool isResponse)
    {
        var scanner = new JsonRpcIdScanner();
        scanner.Feed(Encoding.UTF8.GetBytes(json));
        isResponse = scanner.IsResponse;
        return scanner.Id?.ToString();
    }
}
