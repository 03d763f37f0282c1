namespace McpProxy.Configuration.Validation;

/// <summary><c>[backends.retry]</c>: the backoff bounds agree.</summary>
internal sealed class ResilienceValidator : IConfigValidator
{
    public void Validate(ProxyConfig config, ConfigErrors diagnostics)
    {
        foreach (var backend in config.Backends)
        {
            if (backend.Retry is not { } retry || diagnostics.SectionOf(retry) is not { } s)
            {
                continue;
            }

            // Only when both values are valid (given or defaulted), so a bad value is not reported twice.
            var initialOk = !s.Has("initial_backoff_ms") || s.Usable("initial_backoff_ms");
            var maxOk = !s.Has("max_backoff_ms") || s.Usable("max_backoff_ms");
            if (initialOk && maxOk && retry.MaxBackoffMs < retry.InitialBackoffMs)
            {
                var key = s.Has("max_backoff_ms") ? "max_backoff_ms" : "initial_backoff_ms";
                s.Error(key, $"max_backoff_ms ({retry.MaxBackoffMs}) must be >= initial_backoff_ms ({retry.InitialBackoffMs})");
            }
        }
    }
}
