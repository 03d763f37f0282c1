using McpProxy.Tests.Infrastructure;
using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Backends;

/// <summary>
/// A large result in transfer holds up no other call: while the proxy is writing a 20 MiB result to a client that has
/// read only its first byte (so the proxy's write waits on a full socket), calls to another backend and to the same
/// backend, from another session, are answered. Ordering, not time: the large call is provably still in transfer (its
/// body unread) when the other calls complete; then the whole result arrives intact.
/// </summary>
public sealed class LargeResultIsolationTests
{
    private const int SizeKb = 20 * 1024;
    private static CancellationToken Ct => TestContext.Timeout(120);

    [Fact]
    public async Task Calls_to_other_backends_are_answered_while_a_20_MiB_result_is_still_in_transfer()
    {
        await using var proxy = await ProxyHost.StartAsync("""
            [security]
            max_result_size = 67108864

            """ + TestPaths.SampleStdioBackend("big") + TestPaths.SampleStdioBackend("other"));
        using var http = new HttpClient();
        var session = await OpenRawSessionAsync(http, proxy.McpEndpoint, Ct);
        using var large = await http.SendAsync(
            SessionPost(proxy.McpEndpoint, session, """{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"big/large","arguments":{"size_kb":""" + SizeKb + "}}}"),
            HttpCompletionOption.ResponseHeadersRead,
            Ct);
        large.EnsureSuccessStatusCode();
        await using var body = await large.Content.ReadAsStreamAsync(Ct);
        var first = new byte[1];
        await body.ReadExactlyAsync(first, Ct); // the proxy has the result and is writing it

        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal($"other {i}", Text(await client.CallToolAsync("other/echo", Message($"other {i}"), cancellationToken: Ct)));
        }

        Assert.Equal("same backend", Text(await client.CallToolAsync("big/echo", Message("same backend"), cancellationToken: Ct)));

        using var reader = new StreamReader(body);
        var rest = await reader.ReadToEndAsync(Ct);
        Assert.True(rest.Length > SizeKb * 1024, $"the large result arrived cut short ({rest.Length} characters)");
        Assert.Contains("\"id\":2", rest, StringComparison.Ordinal);
    }
}
