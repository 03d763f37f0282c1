using McpProxy.Backends;
using McpProxy.Configuration;
using McpProxy.Reload;
using McpProxy.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Reload;

/// <summary><c>[proxy] hot_reload = true</c>: edit the file under a live client session.</summary>
public sealed class HotReloadTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mcp-proxy-reload-").FullName;

    private static CancellationToken Ct => TestContext.Timeout(60);

    [Fact]
    public async Task Backends_are_added_replaced_and_removed_live_and_an_invalid_file_is_rejected()
    {
        await using var a = await SampleHttpHost.StartAsync();
        await using var b = await SampleHttpHost.StartAsync();
        var path = Path.Combine(_dir, "mcp-proxy.toml");
        const string header = """
            [proxy]
            name = "reloading"
            hot_reload = true
            [proxy.listen]
            port = 0

            """;
        await File.WriteAllTextAsync(path, header + a.Backend("a"), Ct);

        var logs = new CapturingLoggerProvider();
        await using var proxy = await ProxyHost.StartFromFileAsync(path, l => l.AddProvider(logs));
        var changes = 0;
        await using var client = await proxy.ConnectAsync(new McpClientOptions
        {
            Handlers = new McpClientHandlers
            {
                NotificationHandlers = [new(NotificationMethods.ToolListChangedNotification, (_, _) => { Interlocked.Increment(ref changes); return default; })],
            },
        }, Ct);
        var registry = proxy.Services.GetRequiredService<BackendRegistry>();
        var watcher = proxy.Services.GetServices<IHostedService>().OfType<ConfigWatcher>().Single();
        await WaitUntil(() => logs.Entries.Any(e => e.Message.StartsWith("Hot reload: watching", StringComparison.Ordinal)));
        Assert.Equal("one", Text(await client.CallToolAsync("a/echo", Message("one"), cancellationToken: Ct)));

        // Add b: clients hear list_changed and can call it; a's connection is untouched.
        var connectionA = registry.Backends.Single(x => x.Name == "a");
        await File.WriteAllTextAsync(path, header + a.Backend("a") + b.Backend("b"), Ct);
        await WaitForToolAsync(client, "b/echo");
        await WaitUntil(() => Volatile.Read(ref changes) >= 1);
        Assert.Same(connectionA, registry.Backends.Single(x => x.Name == "a"));
        Assert.Equal("two", Text(await client.CallToolAsync("b/echo", Message("two"), cancellationToken: Ct)));

        // Replace a (a new alias): a new connection with the new catalog; b keeps its connection.
        var connectionB = registry.Backends.Single(x => x.Name == "b");
        await File.WriteAllTextAsync(path, header + a.Backend("a", "[[backends.aliases]]\nfrom = \"echo\"\nto = \"say\"") + b.Backend("b"), Ct);
        await WaitForToolAsync(client, "a/say");
        Assert.DoesNotContain(await client.ListToolsAsync(cancellationToken: Ct), t => t.Name == "a/echo");
        Assert.NotSame(connectionA, registry.Backends.Single(x => x.Name == "a"));
        Assert.Same(connectionB, registry.Backends.Single(x => x.Name == "b"));
        Assert.Equal("three", Text(await client.CallToolAsync("a/say", Message("three"), cancellationToken: Ct)));

        // An invalid file: rejected with the errors logged; the running config keeps serving the same session.
        var reloads = watcher.Reloads;
        await File.WriteAllTextAsync(path, header + a.Backend("a") + "[[backends]]\nname = \"broken\"\ntransport = \"carrier-pigeon\"\n", Ct);
        await WaitUntil(() => watcher.Rejected == 1);
        Assert.Equal(reloads, watcher.Reloads);
        var rejected = Assert.Single(logs.Entries, e => e.Message.Contains("rejected", StringComparison.Ordinal));
        Assert.Equal(LogLevel.Error, rejected.Level);
        Assert.Contains("backends[broken].transport", rejected.Message, StringComparison.Ordinal);
        Assert.Equal("four", Text(await client.CallToolAsync("a/say", Message("four"), cancellationToken: Ct)));
        Assert.Equal("five", Text(await client.CallToolAsync("b/echo", Message("five"), cancellationToken: Ct)));

        // Remove a: its tools leave, b stays.
        await File.WriteAllTextAsync(path, header + b.Backend("b"), Ct);
        await WaitUntil(async () => !(await client.ListToolsAsync(cancellationToken: Ct)).Any(t => t.Name.StartsWith("a/", StringComparison.Ordinal)));
        var gone = await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync("a/say", Message("x"), cancellationToken: Ct).AsTask());
        Assert.Equal(McpErrorCode.InvalidParams, gone.ErrorCode);
        Assert.Same(connectionB, registry.Backends.Single());
        Assert.Equal("six", Text(await client.CallToolAsync("b/echo", Message("six"), cancellationToken: Ct)));
    }

    private static Task WaitForToolAsync(McpClient client, string name) =>
        WaitUntil(async () => (await client.ListToolsAsync(cancellationToken: Ct)).Any(t => t.Name == name));

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
