using McpProxy.Observability;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit;

namespace McpProxy.Tests.Observability;

/// <summary>
/// Scopes reach a provider that keeps no external scope stack with their fields escaped when it reads them (the
/// escaping is lazy: ASP.NET Core begins a scope for every request, and most are never read).
/// </summary>
public sealed class LogEscapingUnitTests
{
    [Fact]
    public void A_scope_s_fields_and_text_are_escaped_when_a_provider_reads_them()
    {
        var provider = new ScopeRecordingProvider();
        var services = new ServiceCollection();
        services.AddLogging(logging => logging.ClearProviders().AddProvider(provider));
        services.EscapeControlCharactersInLogs();
        using var sp = services.BuildServiceProvider();
        var logger = sp.GetRequiredService<ILoggerFactory>().CreateLogger("t");

        using (logger.BeginScope(new Fields([new("RequestPath", "/mcp\ninfo: FAKE"), new("Count", 3), new("{OriginalFormat}", "p={RequestPath}")])))
        {
        }

        var scope = Assert.Single(provider.Scopes);
        var fields = Assert.IsAssignableFrom<IEnumerable<KeyValuePair<string, object?>>>(scope).ToList();
        Assert.Equal("/mcp\\ninfo: FAKE", fields[0].Value);
        Assert.Equal(3, fields[1].Value);
        Assert.Equal("p={RequestPath}", fields[2].Value);
        Assert.Equal("p=/mcp\\ninfo: FAKE", scope.ToString());
    }

    private sealed class Fields(List<KeyValuePair<string, object?>> pairs) : List<KeyValuePair<string, object?>>(pairs)
    {
        public override string ToString() => "p=" + this[0].Value;
    }

    private sealed class ScopeRecordingProvider : ILoggerProvider
    {
        public List<object> Scopes { get; } = [];

        public ILogger CreateLogger(string categoryName) => new Logger(Scopes);

        public void Dispose()
        {
        }

        private sealed class Logger(List<object> scopes) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull
            {
                scopes.Add(state);
                return null;
            }

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
            }
        }
    }
}
