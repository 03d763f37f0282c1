using McpProxy.Backends;
using McpProxy.Configuration;
using McpProxy.Reload;
using McpProxy.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Client;
using Xunit;

using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Reload;

/// <summary>No reload can take the proxy down: a refused pipeline, a failing apply, a half-written file.</summary>
public sealed class HotReloadSafetyTests : IDisposable
{
    private const string Header = """
        [proxy]
        name = "reloading"
        hot_reload = true
        [proxy.listen]
        port = 0

        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("mcp-proxy-reload-safety-").FullName;

    private static CancellationToken Ct => TestContext.Timeout(60);

    private string ConfigPath => Path.Combine(_dir, "mcp-proxy.toml");

    [Fact]
    public async Task A_reload_whose_pipeline_the_library_refuses_is_rejected_and_the_old_backends_keep_serving()
    {
        await using var a = await SampleHttpHost.StartAsync();
        await File.WriteAllTextAsync(ConfigPath, Header + a.Backend("a"), Ct);
        var logs = new CapturingLoggerProvider();
        await using var proxy = await ProxyHost.StartFromFileAsync(ConfigPath, l => l.AddProvider(logs));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);
        var watcher = Watcher(proxy);
        await WaitUntil(() => logs.Entries.Any(e => e.Message.StartsWith("Hot reload: watching", StringComparison.Ordinal)));

        // Polly refuses a timeout under 10 ms: before, this reload threw inside the watcher and stopped the host.
        await File.WriteAllTextAsync(ConfigPath, Header + a.Backend("a", "[backends.timeout]\nseconds = 0.001"), Ct);
        await WaitUntil(() => watcher.Rejected == 1);

        Assert.Equal(0, watcher.Reloads);
        Assert.False(proxy.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.IsCancellationRequested);
        var rejected = Assert.Single(logs.Entries, e => e.Message.Contains("rejected", StringComparison.Ordinal));
        Assert.Contains("backends[a].timeout.seconds", rejected.Message, StringComparison.Ordinal);
        Assert.Equal("still here", Text(await client.CallToolAsync("a/echo", Message("still here"), cancellationToken: Ct)));
    }

    [Fact]
    public async Task A_reload_that_loads_but_fails_to_apply_keeps_the_old_backends_serving_and_logs_why()
    {
        await using var a = await SampleHttpHost.StartAsync();
        await using var b = await SampleHttpHost.StartAsync();
        await File.WriteAllTextAsync(ConfigPath, Header + a.Backend("a"), Ct);
        var logs = new CapturingLoggerProvider();
        await using var proxy = await ProxyHost.StartFromFileAsync(ConfigPath, l => l.AddProvider(logs));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);
        var watcher = Watcher(proxy);
        var registry = proxy.Services.GetRequiredService<BackendRegistry>();
        var before = registry.Backends.Single();

        // A config that passed loading (here built in code, standing for any failure validation cannot foresee) and
        // whose second backend throws while its connection is built: nothing of it may take effect.
        var loaded = ConfigLoader.Parse(Header + a.Backend("a", "[[backends.aliases]]\nfrom = \"echo\"\nto = \"say\"") + b.Backend("b"), ConfigPath);
        var next = loaded with { Backends = [loaded.Backends[0], loaded.Backends[1] with { Timeout = new TimeoutConfig { Seconds = 0.001 } }] };

        Assert.False(await watcher.ApplyAsync(ConfigPath, next, Ct));

        Assert.Equal(1, watcher.Failed);
        Assert.Equal(0, watcher.Reloads);
        var failed = Assert.Single(logs.Entries, e => e.Message.Contains("failed", StringComparison.Ordinal) && e.Category.EndsWith("ConfigWatcher", StringComparison.Ordinal));
        Assert.Equal(LogLevel.Error, failed.Level);
        Assert.Contains("the running config keeps serving", failed.Message, StringComparison.Ordinal);
        Assert.Same(before, registry.Backends.Single());
        Assert.Equal(proxy.Config.Backends, registry.Configs);
        var tools = await client.ListToolsAsync(cancellationToken: Ct);
        Assert.Contains(tools, t => t.Name == "a/echo");
        Assert.DoesNotContain(tools, t => t.Name.StartsWith("b/", StringComparison.Ordinal) || t.Name == "a/say");
        Assert.Equal("served", Text(await client.CallToolAsync("a/echo", Message("served"), cancellationToken: Ct)));

        // The watcher still applies the next good file.
        await File.WriteAllTextAsync(ConfigPath, Header + a.Backend("a") + b.Backend("b"), Ct);
        await WaitUntil(async () => (await client.ListToolsAsync(cancellationToken: Ct)).Any(t => t.Name == "b/echo"));
        Assert.Equal(1, watcher.Reloads);
    }

    [Fact]
    public async Task A_file_caught_half_written_is_never_applied_only_the_completed_one_is()
    {
        await using var a = await SampleHttpHost.StartAsync();
        await using var b = await SampleHttpHost.StartAsync();
        await File.WriteAllTextAsync(ConfigPath, Header + a.Backend("a"), Ct);
        var logs = new CapturingLoggerProvider();
        await using var proxy = await ProxyHost.StartFromFileAsync(ConfigPath, l => l.AddProvider(logs));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);
        var watcher = Watcher(proxy);
        var registry = proxy.Services.GetRequiredService<BackendRegistry>();
        await WaitUntil(() => logs.Entries.Any(e => e.Message.StartsWith("Hot reload: watching", StringComparison.Ordinal)));
        // Long enough that this test's second write always lands before the watcher's confirming read.
        watcher.Debounce = TimeSpan.FromSeconds(3);

        // The writer has written the first half: a valid config on its own (b added, a not written yet, so "removed").
        var half = Header + b.Backend("b");
        var complete = half + a.Backend("a");
        await File.WriteAllTextAsync(ConfigPath, half, Ct);
        await WaitUntil(() => watcher.ChangesSeen >= 1);

        // ... and now the rest.
        await File.WriteAllTextAsync(ConfigPath, complete, Ct);
        await WaitUntil(() => watcher.Reloads + watcher.Rejected + watcher.Failed >= 1);

        Assert.Equal(1, watcher.Reloads);
        Assert.Equal(0, watcher.Rejected);
        Assert.Equal(["a", "b"], registry.Backends.Select(x => x.Name).Order());
        Assert.DoesNotContain(logs.Entries, e => e.Message.Contains("removed [a]", StringComparison.Ordinal));
        await WaitUntil(async () => (await client.ListToolsAsync(cancellationToken: Ct)).Any(t => t.Name == "b/echo"));
        Assert.Equal("both", Text(await client.CallToolAsync("a/echo", Message("both"), cancellationToken: Ct)));
    }

    private static ConfigWatcher Watcher(ProxyHost proxy) => proxy.Services.GetServices<IHostedService>().OfType<ConfigWatcher>().Single();

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
