using Microsoft.Extensions.DependencyInjection.Extensions;

namespace McpProxy.Observability;

/// <summary>
/// Health probes are not logged at Information: a load balancer polling <c>/health</c> and <c>/alive</c> every few
/// seconds would otherwise fill the log with ASP.NET Core's "Request starting / Executing endpoint 'Health checks' /
/// Request finished" lines. Those lines of a probe are written at Debug instead (so only with <c>log_level</c>
/// <c>debug</c> or <c>trace</c>); every other request keeps its Information lines. Microsoft.Extensions.Logging filters by category and level only (and ASP.NET Core's hosting
/// diagnostics log before any middleware runs), so this is a provider wrapper that looks at the request path in the
/// structured state of the two categories concerned.
/// </summary>
internal static class ProbeLogFilter
{
    private const string HostingCategory = "Microsoft.AspNetCore.Hosting.Diagnostics";
    private const string EndpointCategory = "Microsoft.AspNetCore.Routing.EndpointMiddleware";

    /// <summary>The endpoint name ASP.NET Core gives <c>MapHealthChecks</c> endpoints.</summary>
    private const string HealthChecksEndpoint = "Health checks";

    /// <summary>Wraps every <see cref="ILoggerProvider"/> registered so far (call after all providers are added).</summary>
    public static void DemoteHealthProbeRequestLogs(this IServiceCollection services, bool debugEnabled, params string[] probePaths)
    {
        var providers = services.Where(d => d.ServiceType == typeof(ILoggerProvider) && !d.IsKeyedService).ToList();
        foreach (var descriptor in providers)
        {
            services.Remove(descriptor);
            services.Add(ServiceDescriptor.Singleton<ILoggerProvider>(sp =>
            {
                var inner = (ILoggerProvider)(descriptor.ImplementationInstance
                    ?? descriptor.ImplementationFactory?.Invoke(sp)
                    ?? ActivatorUtilities.CreateInstance(sp, descriptor.ImplementationType!));
                return inner is ISupportExternalScope external
                    ? new ExternalScopeProvider(inner, external, debugEnabled, probePaths)
                    : new Provider(inner, debugEnabled, probePaths);
            }));
        }
    }

    /// <summary>True for the Information lines ASP.NET Core writes for a request to one of <paramref name="probePaths"/>.</summary>
    internal static bool IsProbeLine(string category, object? state, IReadOnlyCollection<string> probePaths)
    {
        if (state is not IEnumerable<KeyValuePair<string, object?>> pairs)
        {
            return false;
        }

        foreach (var (key, value) in pairs)
        {
            if (category == HostingCategory && key == "Path" && value?.ToString() is { } path)
            {
                return probePaths.Contains(path, StringComparer.OrdinalIgnoreCase);
            }

            if (category == EndpointCategory && key == "EndpointName")
            {
                return value?.ToString() == HealthChecksEndpoint;
            }
        }

        return false;
    }

    private class Provider(ILoggerProvider inner, bool debugEnabled, string[] probePaths) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName)
        {
            var logger = inner.CreateLogger(categoryName);
            return categoryName is HostingCategory or EndpointCategory ? new Logger(logger, categoryName, debugEnabled, probePaths) : logger;
        }

        public void Dispose() => inner.Dispose();
    }

    private sealed class ExternalScopeProvider(ILoggerProvider inner, ISupportExternalScope external, bool debugEnabled, string[] probePaths)
        : Provider(inner, debugEnabled, probePaths), ISupportExternalScope
    {
        public void SetScopeProvider(IExternalScopeProvider scopeProvider) => external.SetScopeProvider(scopeProvider);
    }

    /// <remarks>
    /// The factory's level filter ran before <see cref="Log{TState}"/> (for Information), and a provider's own logger says
    /// yes to every level: whether Debug is wanted comes from the configured minimum (<paramref name="debugEnabled"/>).
    /// </remarks>
    private sealed class Logger(ILogger inner, string category, bool debugEnabled, string[] probePaths) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel == LogLevel.Information && IsProbeLine(category, state, probePaths))
            {
                if (!debugEnabled)
                {
                    return;
                }

                logLevel = LogLevel.Debug;
            }

            inner.Log(logLevel, eventId, state, exception, formatter);
        }
    }
}
