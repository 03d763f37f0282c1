using System.Text;
using System.Text.Json.Nodes;
using McpProxy.Backends;
using McpProxy.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Security;

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
        await using var proxy = await ProxyHost.StartAsync(Limit + backend.Backend("h"));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);
        await AssertBoundedAsync(proxy, client, "h");
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

    private static string? Scan(string json, out bool isResponse)
    {
        var scanner = new JsonRpcIdScanner();
        scanner.Feed(Encoding.UTF8.GetBytes(json));
        isResponse = scanner.IsResponse;
        return scanner.Id?.ToString();
    }
}
