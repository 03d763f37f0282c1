namespace McpProxy.Configuration.Validation;

/// <summary>
/// One area's rules across keys and tables (which keys go with which transport or auth type, names unique and
/// referenced names defined, values that must agree): it reads the mapped records and reports through
/// <see cref="ConfigErrors"/> against the table each record was read from, so every problem keeps its file, line, key
/// and backend. Rules about one value alone (type, range) stay with the reader.
/// </summary>
internal interface IConfigValidator
{
    void Validate(ProxyConfig config, ConfigErrors diagnostics);
}

/// <summary>Runs every area's validator, in this order, over a freshly read config (YARP's ConfigValidator is the model).</summary>
internal static class ConfigValidator
{
    private static readonly IConfigValidator[] Validators =
    [
        new ProxyValidator(),
        new BackendValidator(),
        new ResilienceValidator(),
        new AuthValidator(),
        new SecurityValidator(),
        new ObservabilityValidator(),
    ];

    public static void Validate(ProxyConfig config, ConfigErrors diagnostics)
    {
        diagnostics.EndReading();
        foreach (var validator in Validators)
        {
            validator.Validate(config, diagnostics);
        }
    }

    /// <summary>An absolute http or https URI with a host.</summary>
    internal static bool IsHttpUri(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri)
        && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
        && !string.IsNullOrEmpty(uri.Host);
}
