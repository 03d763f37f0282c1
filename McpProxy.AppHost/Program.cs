using McpProxy.AppHost;

// The McpProxy topology: the proxy (McpProxy.Api) in front of two sample MCP backends over Streamable HTTP,
// a Redis cache and, where a container engine runs, Jaeger receiving the same OTLP traces the dashboard shows.
//
// Switch: McpProxy:UseContainers (env McpProxy__UseContainers or --McpProxy:UseContainers). false runs Redis as the
// `redis-server` executable on a free port and leaves Jaeger out, for machines and CI without a container engine;
// true uses containers; unset asks the container engine (`docker info`) and picks for you. Nothing else differs.
var builder = DistributedApplication.CreateBuilder(args);
var useContainers = ContainerEngine.ShouldUse(
    builder.Configuration["McpProxy:UseContainers"], builder.ExecutionContext.IsPublishMode, builder.Configuration["ASPIRE_CONTAINER_RUNTIME"]);

var cache = useContainers
    ? builder.AddRedis(TopologyNames.Cache).AsConnectionStringResource()
    : builder.AddRedisServerExecutable(TopologyNames.Cache);

var sampleA = builder.AddProject<Projects.McpProxy_Backends_Sample>(TopologyNames.SampleA)
    .WithHttpEndpoint()
    .WithEnvironment("SAMPLE_NAME", TopologyNames.SampleA)
    .WithHttpHealthCheck("/health");

var sampleB = builder.AddProject<Projects.McpProxy_Backends_Sample>(TopologyNames.SampleB)
    .WithHttpEndpoint()
    .WithEnvironment("SAMPLE_NAME", TopologyNames.SampleB)
    .WithHttpHealthCheck("/health");

// The topology's config file names the backends by their service discovery names (url = "http://sample-a/mcp").
// Run mode reads it from this project's folder; a published container carries it next to the proxy's binaries
// (/app, the working directory of .NET SDK container images).
var configPath = builder.ExecutionContext.IsPublishMode
    ? $"/app/{TopologyNames.ConfigFileName}"
    : Path.Combine(builder.AppHostDirectory, TopologyNames.ConfigFileName);

// Two replicas behind Aspire's (run mode) or Container Apps' (azd up) load balancer, with no session affinity: both
// share the Redis below, so a legacy session continues on either and modern requests need no session at all.
var proxy = builder.AddProject<Projects.McpProxy_Api>(TopologyNames.Proxy)
    .WithReplicas(TopologyNames.ProxyReplicas)
    .WithHttpEndpoint()
    .WithEnvironment("MCP_PROXY_CONFIG", configPath)
    .WithReference(sampleA).WaitFor(sampleA)
    .WithReference(sampleB).WaitFor(sampleB)
    .WithReference(cache).WaitFor(cache)
    .WithHttpHealthCheck("/health")
    .WithExternalHttpEndpoints();

// Every ${NAME} the topology's config needs (no :- default) is a secret AppHost parameter, handed to the proxy as the
// environment variable NAME: `azd up` prompts for it, run mode reads Parameters:name from user secrets or the dashboard.
// The shipped config needs two: the proxy's external endpoint requires a bearer token (${MCP_PROXY_TOKEN} →
// `mcp-proxy-token`) and its admin API the admin token (${MCP_PROXY_ADMIN_TOKEN} → `mcp-proxy-admin-token`).
foreach (var variable in TopologySecrets.RequiredVariables(File.ReadAllText(Path.Combine(builder.AppHostDirectory, TopologyNames.ConfigFileName))))
{
    proxy.WithEnvironment(variable, builder.AddParameter(TopologySecrets.ParameterName(variable), secret: true));
}

if (useContainers && !builder.ExecutionContext.IsPublishMode)
{
    // Jaeger all-in-one receives OTLP (gRPC 4317) from the proxy and the backends, next to the dashboard's own
    // OTLP endpoint: ServiceDefaults exports to both when OTEL_EXPORTER_OTLP_SECONDARY_ENDPOINT is set.
    var jaeger = builder.AddContainer(TopologyNames.Jaeger, "jaegertracing/all-in-one", "1.62.0")
        .WithHttpEndpoint(targetPort: 16686, name: "ui")
        .WithEndpoint(targetPort: 4317, name: "otlp", scheme: "http")
        .WithEnvironment("COLLECTOR_OTLP_ENABLED", "true")
        .ExcludeFromManifest();
    var otlp = jaeger.GetEndpoint("otlp");
    foreach (var service in new[] { proxy, sampleA, sampleB })
    {
        service.WithEnvironment("OTEL_EXPORTER_OTLP_SECONDARY_ENDPOINT", otlp).WaitFor(jaeger);
    }
}

builder.Build().Run();
