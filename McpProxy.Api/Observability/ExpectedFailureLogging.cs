using Microsoft.Extensions.DependencyInjection.Extensions;
using ModelContextProtocol;

namespace McpProxy.Observability;

/// <summary>
/// Expected failures log one line at warning, not a stack trace at error. The MCP SDK logs every exception a request
/// handler throws with its stack trace ("\"tool\" threw an unhandled exception." at error, "request handler failed" at
/// warning), including the JSON-RPC errors the proxy answers on purpose (backend unavailable, timeouts, backend errors,
/// refusals, unknown items). For the SDK's categories those entries go to debug, stack trace included; the proxy's own
/// warning line (<c>ProxyHandlers</c>) says what failed. Any other exception (a bug) keeps the SDK's level.
/// </summary>
/// <remarks>
/// A decorator of <see cref="ILoggerFactory"/> (not of each provider), so the demoted entry still goes through the
/// configured filters at its new level. The SDK offers no hook to choose these levels itself.
/// </remarks>
internal static class ExpectedFailureLogging
{
    public static void DemoteExpectedSdkFailures(this IServiceCollection services)
    {
        var descriptor = services.LastOrDefault(d => d.ServiceType == typeof(ILoggerFactory) && !d.IsKeyedService);
        var implementation = descriptor?.ImplementationType ?? typeof(LoggerFactory);
        services.Replace(ServiceDescriptor.Singleton<ILoggerFactory>(sp =>
            new DemotingLoggerFactory(descriptor?.ImplementationFactory is { } factory
                ? (ILoggerFactory)factory(sp)
                : (ILoggerFactory)ActivatorUtilities.CreateInstance(sp, implementation))));
    }

    /// <summary>A JSON-RPC error the proxy answers on purpose, or a cancellation: not a bug.</summary>
    internal static bool IsExpected(Exception? exception) => exception is McpProtocolException or OperationCanceledException;

    /// <summary>
    /// The SDK's warning for a JSON-RPC error response to a request it sent (a backend's error to the proxy's call): the
    /// proxy's own warning line says it already, and the backend's text may echo the caller's arguments. Matched on the
    /// SDK's event name or message template (it carries no exception).
    /// </summary>
    private const string SendingRequestFailedTemplate = "{EndpointName} request failed for method '{Method}': {ErrorMessage} ({ErrorCode}).";

    private static bool IsErrorResponse<TState>(EventId eventId, TState state) =>
        eventId.Name == "LogSendingRequestFailed"
        || (state is IReadOnlyList<KeyValuePair<string, object?>> pairs
            && pairs.Count > 0
            && pairs[^1] is { Key: "{OriginalFormat}", Value: SendingRequestFailedTemplate });

    private sealed class DemotingLoggerFactory(ILoggerFactory inner) : ILoggerFactory
    {
        public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

        public ILogger CreateLogger(string categoryName)
        {
            var logger = inner.CreateLogger(categoryName);
            return categoryName.StartsWith("ModelContextProtocol", StringComparison.Ordinal) ? new DemotingLogger(logger) : logger;
        }

        public void Dispose() => inner.Dispose();
    }

    private sealed class DemotingLogger(ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel) || (logLevel > LogLevel.Debug && inner.IsEnabled(LogLevel.Debug));

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel > LogLevel.Debug && logLevel < LogLevel.None && (IsExpected(exception) || IsErrorResponse(eventId, state)))
            {
                logLevel = LogLevel.Debug;
            }

            if (inner.IsEnabled(logLevel))
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
