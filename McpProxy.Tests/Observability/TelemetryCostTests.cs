using System.Collections;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Security.Claims;
using System.Text.Json;
using McpProxy.Configuration;
using McpProxy.Observability;
using McpProxy.Tests.Security;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace McpProxy.Tests.Observability;

/// <summary>
/// The call telemetry pays for what it does (issue 16 item 3): with metrics on and no span a call allocates nothing,
/// and the audit event — the caller's identity, the serialized arguments — is built only when the audit logger writes.
/// Runs alone: an in-process proxy of another test would listen to the proxy's ActivitySource.
/// </summary>
[Collection(AloneCollection.Name)]
public sealed class TelemetryCostTests : IDisposable
{
    private readonly ServiceProvider _provider = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly IMeterFactory _meters;
    private readonly MeterListener _listener = new();
    private long _requests;

    public TelemetryCostTests()
    {
        _meters = _provider.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Scope == _meters)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _requests, value));
        _listener.SetMeasurementEventCallback<double>(static (_, _, _, _) => { });
        _listener.Start();
    }

    public void Dispose()
    {
        _listener.Dispose();
        _provider.Dispose();
    }

    private ProxyTelemetry Telemetry(bool audit, ILoggerFactory loggers) =>
        new(_meters, loggers, new ProxyConfig { Observability = new ObservabilityConfig { Audit = audit, AuditArguments = true } }, []);

    [Fact]
    public void A_call_with_metrics_on_and_no_span_allocates_nothing()
    {
        var telemetry = Telemetry(audit: false, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        Assert.False(ProxyDiagnostics.ActivitySource.HasListeners(), "another test left a listener on the proxy's ActivitySource");
        void Call()
        {
            var activity = telemetry.StartCall("tools/call", "b", "b/echo");
            telemetry.EndCall(activity, "tools/call", "b", "b/echo", "ok", TimeSpan.FromMilliseconds(3), null, null);
        }

        Call(); // first use: JIT, the listener's own setup
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            Call();
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(101, Interlocked.Read(ref _requests)); // the counter was recorded every time
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void The_audit_event_is_not_built_when_the_audit_logger_is_off()
    {
        // Audit on in the config, but its logger writes nothing (filtered out): neither the caller nor the arguments are read.
        using var off = LoggerFactory.Create(logging => logging.AddFilter(ProxyDiagnostics.AuditCategory, LogLevel.None).AddProvider(new Capture()));
        Telemetry(audit: true, off).EndCall(null, "tools/call", "b", "b/echo", "ok", TimeSpan.FromMilliseconds(3), new UnreadableUser(), new UnreadableArguments());

        // Audit off in the config.
        var written = new Capture();
        using var on = LoggerFactory.Create(logging => logging.AddProvider(written));
        Telemetry(audit: false, on).EndCall(null, "tools/call", "b", "b/echo", "ok", TimeSpan.FromMilliseconds(3), new UnreadableUser(), new UnreadableArguments());
        Assert.Empty(written.Lines);

        // Audit on and written: the event is there, with the caller and the arguments.
        var arguments = new Dictionary<string, JsonElement> { ["text"] = JsonDocument.Parse("\"hi\"").RootElement };
        Telemetry(audit: true, on).EndCall(null, "tools/call", "b", "b/echo", "ok", TimeSpan.FromMilliseconds(3), null, arguments);
        var line = Assert.Single(written.Lines);
        Assert.Contains("caller=anonymous method=tools/call backend=b item=b/echo outcome=ok", line, StringComparison.Ordinal);
        Assert.Contains("arguments={\"text\":\"hi\"}", line, StringComparison.Ordinal);
    }

    /// <summary>A caller whose identity must not be read.</summary>
    private sealed class UnreadableUser : ClaimsPrincipal
    {
        public override System.Security.Principal.IIdentity? Identity => throw new InvalidOperationException("the caller was read");
    }

    /// <summary>Arguments that must not be serialized.</summary>
    private sealed class UnreadableArguments : IDictionary<string, JsonElement>
    {
        private static InvalidOperationException Read() => new("the arguments were read");

        public JsonElement this[string key] { get => throw Read(); set => throw Read(); }
        public ICollection<string> Keys => throw Read();
        public ICollection<JsonElement> Values => throw Read();
        public int Count => throw Read();
        public bool IsReadOnly => true;
        public void Add(string key, JsonElement value) => throw Read();
        public void Add(KeyValuePair<string, JsonElement> item) => throw Read();
        public void Clear() => throw Read();
        public bool Contains(KeyValuePair<string, JsonElement> item) => throw Read();
        public bool ContainsKey(string key) => throw Read();
        public void CopyTo(KeyValuePair<string, JsonElement>[] array, int arrayIndex) => throw Read();
        public IEnumerator<KeyValuePair<string, JsonElement>> GetEnumerator() => throw Read();
        public bool Remove(string key) => throw Read();
        public bool Remove(KeyValuePair<string, JsonElement> item) => throw Read();
        public bool TryGetValue(string key, out JsonElement value) => throw Read();
        IEnumerator IEnumerable.GetEnumerator() => throw Read();
    }

    private sealed class Capture : ILoggerProvider
    {
        public List<string> Lines { get; } = [];
        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);
        public void Dispose() { }

        private sealed class Logger(Capture owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => true;
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (category == ProxyDiagnostics.AuditCategory)
                {
                    lock (owner.Lines)
                    {
                        owner.Lines.Add(formatter(state, exception));
                    }
                }
            }
        }
    }
}
