namespace McpProxy.Configuration.Validation;

/// <summary><c>[observability]</c> and <c>[observability.tracing]</c>: the log level, the OTLP endpoint, service name and protocol.</summary>
internal sealed class ObservabilityValidator : IConfigValidator
{
    public void Validate(ProxyConfig config, ConfigErrors diagnostics)
    {
        var observability = config.Observability;
        if (diagnostics.SectionOf(observability) is { } s && s.Usable("log_level") && !ConfigReader.LogLevels.Contains(observability.LogLevel))
        {
            s.Error("log_level", $"unknown log level '{observability.LogLevel}' (expected one of {string.Join(", ", ConfigReader.LogLevels)})");
        }

        var tracing = observability.Tracing;
        if (diagnostics.SectionOf(tracing) is not { } t)
        {
            return;
        }

        if (t.Usable("endpoint") && !ConfigValidator.IsHttpUri(tracing.Endpoint))
        {
            t.Error("endpoint", $"must be an absolute http or https URL (got '{tracing.Endpoint}')");
        }

        if (t.Usable("service_name") && string.IsNullOrWhiteSpace(tracing.ServiceName))
        {
            t.Error("service_name", "must not be empty");
        }

        if (t.Usable("protocol") && !ConfigReader.TracingProtocols.Contains(tracing.Protocol))
        {
            t.Error("protocol", $"unknown OTLP protocol '{tracing.Protocol}' (expected \"grpc\" or \"http/protobuf\")");
        }
    }
}
