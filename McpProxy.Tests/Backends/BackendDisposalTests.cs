using McpProxy.Backends;
using McpProxy.Configuration;
using McpProxy.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Backends;

/// <summary>
/// A backend's resilience pipeline is disposed with the connection holding it — replaced or removed by a hot reload, or
/// stopped with the proxy — so its rate limiter's replenishment timer does not outlive it.
/// </summary>
public sealed class BackendDisposalTests
{
    private static CancellationToken Ct => TestContext.Timeout(60);

    private const string RateLimit = "[backends.rate_limit]\nrequests = 100\nperiod_seconds = 1";

    [Fact]
    public async Task A_reload_that_replaces_a_backend_disposes_the_old_pipeline()
    {
        await using var sample = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(sample.Backend("a", RateLimit));
        var registry = proxy.Services.GetRequiredService<BackendRegistry>();
        var old = registry.Backends.Single();

        var (_, _, replaced) = await registry.ApplyAsync([old.Config with { RateLimit = new RateLimitConfig { Requests = 50, PeriodSeconds = 1 } }], Ct);

        Assert.Equal(["a"], replaced);
        await WaitUntil(() => old.Resilience.IsDisposed);
        Assert.False(registry.Backends.Single().Resilience.IsDisposed);
    }

    [Fact]
    public async Task A_reload_that_removes_a_backend_disposes_its_pipeline()
    {
        await using var sample = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(sample.Backend("a", RateLimit) + sample.Backend("b", RateLimit));
        var registry = proxy.Services.GetRequiredService<BackendRegistry>();
        var a = registry.Backends.Single(b => b.Name == "a");
        var b = registry.Backends.Single(b => b.Name == "b");

        var (_, removed, _) = await registry.ApplyAsync([b.Config], Ct);

        Assert.Equal(["a"], removed);
        await WaitUntil(() => a.Resilience.IsDisposed);
        Assert.Same(b, registry.Backends.Single());
        Assert.False(b.Resilience.IsDisposed);
    }

    [Fact]
    public async Task Stopping_the_proxy_disposes_every_pipeline()
    {
        await using var sample = await SampleHttpHost.StartAsync();
        var proxy = await ProxyHost.StartAsync(sample.Backend("a", RateLimit));
        var backend = proxy.Services.GetRequiredService<BackendRegistry>().Backends.Single();
        Assert.False(backend.Resilience.IsDisposed);

        await proxy.DisposeAsync();

        Assert.True(backend.Resilience.IsDisposed);
        Assert.Equal(BackendState.Stopped, backend.State);
    }
}
