using System.Diagnostics.Metrics;
using BenchmarkDotNet.Attributes;
using McpProxy.Backends;
using McpProxy.Calls;
using McpProxy.Configuration;
using McpProxy.Observability;
using McpProxy.Resilience;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using ModelContextProtocol.Protocol;

namespace McpProxy.Benchmarks.Micro;

/// <summary>
/// The call telemetry per call with metrics on (a listener enabled on every instrument of the proxy's Meter, as the
/// Prometheus exporter is) and no ActivityListener (no span): the telemetry filter around a completed call, the
/// request counter and histogram (StartCall/EndCall), and the per-backend-request histogram.
/// </summary>
[MemoryDiagnoser]
public class TelemetryBenchmarks
{
    private static readonly object Result = new CallToolResult { Content = [] };
    private static readonly CallDelegate Completed = static (_, _) => ValueTask.FromResult(Result);

    private ServiceProvider _provider = null!;
    private MeterListener _listener = null!;
    private ProxyTelemetry _telemetry = null!;
    private TelemetryFilter _filter = null!;
    private BackendMetrics _backendMetrics = null!;
    private BackendConnection _backend = null!;
    private CallContext _call = null!;

    [GlobalSetup]
    public void Setup()
    {
        _provider = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meters = _provider.GetRequiredService<IMeterFactory>();
        _telemetry = new ProxyTelemetry(meters, NullLoggerFactory.Instance, new ProxyConfig(), []);
        _filter = new TelemetryFilter(_telemetry, new NoFailures(), NullLoggerFactory.Instance);
        _backendMetrics = new BackendMetrics(meters, null!);

        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == ProxyDiagnostics.MeterName)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _listener.SetMeasurementEventCallback<long>(static (_, _, _, _) => { });
        _listener.SetMeasurementEventCallback<double>(static (_, _, _, _) => { });
        _listener.Start();

        var config = new BackendConfig { Name = "b" };
        var services = new ResilienceServices(new OutlierEjections(TimeProvider.System), new ResilienceMetrics(meters), TimeProvider.System);
        _backend = new BackendConnection(BackendModel.Build(config, services, () => null), null!, null!, NullLoggerFactory.Instance, TimeProvider.System);
        _call = new CallContext
        {
            Session = null!,
            Method = "tools/call",
            Kind = "tool",
            Item = "b/echo",
            OriginalItem = "echo",
            BackendName = "b",
            BackendConfig = config,
            Backend = _backend,
            Caller = CallerIdentity.Anonymous,
            Forwarded = new CallToolRequestParams { Name = "echo" },
        };
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _listener.Dispose();
        _provider.Dispose();
    }

    [Benchmark(Baseline = true)]
    public ValueTask<object> NoTelemetry() => Completed(_call, CancellationToken.None);

    [Benchmark]
    public ValueTask<object> TelemetryFilter() => _filter.InvokeAsync(_call, Completed, CancellationToken.None);

    [Benchmark]
    public void StartAndEndCall()
    {
        using var activity = _telemetry.StartCall("tools/call", "b", "b/echo");
        _telemetry.EndCall(activity, "tools/call", "b", "b/echo", "ok", TimeSpan.FromMilliseconds(1), null, null);
    }

    [Benchmark]
    public void RecordBackendRequest() =>
        _backendMetrics.RecordBackendRequest(_backend, null, "tools/call", "echo", TimeSpan.FromMilliseconds(1), null);

    private sealed class NoFailures : ICallFailures
    {
        public bool IsRefusal(Exception exception) => false;
        public bool IsBackendError(Exception exception) => false;
        public bool IsStopping => false;
    }
}
