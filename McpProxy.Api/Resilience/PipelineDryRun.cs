using McpProxy.Configuration;
using System.Diagnostics.Metrics;

namespace McpProxy.Resilience;

/// <summary>
/// <c>--check</c> and hot reload: builds every backend's resilience pipeline exactly as the running proxy does, without
/// connecting anything, so whatever Polly or the rate limiters would throw on at startup is reported as a config error
/// (file, line, backend) instead of taking the proxy down.
/// </summary>
internal static class PipelineDryRun
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The config when every backend's pipeline builds; else <see cref="ConfigException"/> listing each one that does not.</summary>
    public static ProxyConfig ThrowIfInvalid(ProxyConfig config)
    {
        var errors = Run(config);
        return errors.Count == 0 ? config : throw new ConfigException(errors, config.SourcePath);
    }

    /// <summary>One error per backend whose pipeline cannot be built; empty when every pipeline builds.</summary>
    public static IReadOnlyList<ConfigError> Run(ProxyConfig config) => Run(config.Backends, config.SourcePath);

    /// <inheritdoc cref="Run(ProxyConfig)"/>
    public static IReadOnlyList<ConfigError> Run(IEnumerable<BackendConfig> backends, string? sourcePath)
    {
        ArgumentNullException.ThrowIfNull(backends);
        using var provider = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var services = new ResilienceServices(
            new OutlierEjections(TimeProvider.System), new ResilienceMetrics(provider.GetRequiredService<IMeterFactory>()), TimeProvider.System);
        var errors = new List<ConfigError>();
        var position = 0;
        foreach (var backend in backends)
        {
            position++;
            try
            {
                var timeout = backend.Timeout is { } t ? TimeSpan.FromSeconds(t.Seconds) : DefaultTimeout;
                using var _ = new BackendResilience(backend, timeout, services);
            }
            catch (Exception ex) when (ex is ArgumentException or OverflowException or InvalidOperationException or System.ComponentModel.DataAnnotations.ValidationException)
            {
                // Polly's ValidationException lists every invalid option; its first line names the strategy.
                var reason = ex.Message.ReplaceLineEndings(" ").Trim();
                // A name that came from ${VAR} is not echoed: the entry is named by its position, as for a nameless one.
                var label = backend.ExpandedValues.Contains(backend.Name) ? "#" + position : backend.Name;
                errors.Add(new ConfigError("backends", label, backend.SourceLine, $"the backend's resilience pipeline cannot be built: {reason}")
                {
                    SourcePath = sourcePath,
                });
            }
        }

        return errors;
    }
}
