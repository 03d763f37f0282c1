using BenchmarkDotNet.Attributes;
using McpProxy.Configuration;
using McpProxy.Resilience;
using Microsoft.Extensions.DependencyInjection;

namespace McpProxy.Benchmarks.Micro;

/// <summary>
/// The resilience pipeline around one attempt, against awaiting the attempt directly: a backend with only a timeout
/// (the default), and one with a retry policy (Polly's pipeline). The attempt completes synchronously (the pipeline's
/// own cost) or after a yield (as a real send does).
/// </summary>
[MemoryDiagnoser]
public class ResilienceBenchmarks
{
    private static readonly object Result = new();
    private static readonly Func<CancellationToken, ValueTask<object>> Completed = static _ => ValueTask.FromResult(Result);
    private static readonly Func<CancellationToken, ValueTask<object>> Yielding = static async _ =>
    {
        await Task.Yield();
        return Result;
    };

    private ServiceProvider _provider = null!;
    private BackendResilience _timeoutOnly = null!;
    private BackendResilience _withRetry = null!;

    [GlobalSetup]
    public void Setup()
    {
        _provider = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var services = new ResilienceServices(
            new OutlierEjections(TimeProvider.System),
            new ResilienceMetrics(_provider.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()),
            TimeProvider.System);
        _timeoutOnly = new BackendResilience(new BackendConfig { Name = "b", Timeout = new TimeoutConfig { Seconds = 30 } }, TimeSpan.FromSeconds(30), services);
        _withRetry = new BackendResilience(
            new BackendConfig { Name = "r", Timeout = new TimeoutConfig { Seconds = 30 }, Retry = new RetryConfig { MaxRetries = 2 } }, TimeSpan.FromSeconds(30), services);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _timeoutOnly.Dispose();
        _withRetry.Dispose();
        _provider.Dispose();
    }

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("completed")]
    public async Task<object> Direct() => await Completed(CancellationToken.None);

    [Benchmark]
    [BenchmarkCategory("completed")]
    public async Task<object> TimeoutOnly() => await _timeoutOnly.ExecuteAsync(Completed, repeatable: true, "tool", "b/echo", CancellationToken.None);

    [Benchmark]
    [BenchmarkCategory("completed")]
    public async Task<object> WithRetry() => await _withRetry.ExecuteAsync(Completed, repeatable: true, "tool", "r/echo", CancellationToken.None);

    [Benchmark]
    [BenchmarkCategory("yielding")]
    public async Task<object> DirectYielding() => await Yielding(CancellationToken.None);

    [Benchmark]
    [BenchmarkCategory("yielding")]
    public async Task<object> TimeoutOnlyYielding() => await _timeoutOnly.ExecuteAsync(Yielding, repeatable: true, "tool", "b/echo", CancellationToken.None);
}
