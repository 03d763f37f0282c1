namespace McpProxy.Configuration.Validation;

/// <summary><c>[proxy]</c> and <c>[proxy.listen]</c>: the separator, the listen host and path.</summary>
internal sealed class ProxyValidator : IConfigValidator
{
    public void Validate(ProxyConfig config, ConfigErrors diagnostics)
    {
        if (diagnostics.SectionOf(config.Proxy) is { } s && s.Usable("separator") && config.Proxy.Separator.Length == 0)
        {
            s.Error("separator", "must not be empty");
        }

        if (diagnostics.SectionOf(config.Proxy.Listen) is { } listen)
        {
            if (listen.Usable("host") && string.IsNullOrWhiteSpace(config.Proxy.Listen.Host))
            {
                listen.Error("host", "must not be empty");
            }

            if (listen.Usable("path") && !config.Proxy.Listen.Path.StartsWith('/'))
            {
                listen.Error("path", $"must start with '/' (got '{config.Proxy.Listen.Path}')");
            }
        }
    }

    /// <summary>The separator names are checked against: null when the configured one is unusable (already reported).</summary>
    internal static string? Separator(ProxyConfig config, ConfigErrors diagnostics) =>
        diagnostics.SectionOf(config.Proxy) is not { } s || !s.Has("separator") ? config.Proxy.Separator
        : s.Usable("separator") && config.Proxy.Separator.Length > 0 ? config.Proxy.Separator
        : null;
}
