using HealthChecks.Redis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace McpProxy.AppHost;

/// <summary>
/// Redis as a local <c>redis-server</c> process (Debian's <c>redis-server</c> package) for machines without a container
/// engine. It exposes the same connection string resource name as <c>AddRedis</c>, so the proxy cannot tell them apart.
/// Aspire has no executable Redis integration, hence this small resource.
/// </summary>
public sealed class RedisServerResource(string name, string workingDirectory)
    : ExecutableResource(name, "redis-server", workingDirectory), IResourceWithConnectionString
{
    internal const string EndpointName = "tcp";

    public EndpointReference PrimaryEndpoint => field ??= new(this, EndpointName);

    /// <summary><c>host:port</c>, the StackExchange.Redis configuration string (no password: loopback only).</summary>
    public ReferenceExpression ConnectionStringExpression =>
        ReferenceExpression.Create($"{PrimaryEndpoint.Property(EndpointProperty.Host)}:{PrimaryEndpoint.Property(EndpointProperty.Port)}");
}

public static class RedisServerResourceExtensions
{
    /// <summary>Adds <c>redis-server</c> on a port Aspire allocates, in memory only (no RDB/AOF files), with a health check.</summary>
    public static IResourceBuilder<IResourceWithConnectionString> AddRedisServerExecutable(this IDistributedApplicationBuilder builder, string name)
    {
        var workingDirectory = Path.Combine(Path.GetTempPath(), "mcp-proxy-redis");
        Directory.CreateDirectory(workingDirectory);
        var resource = new RedisServerResource(name, workingDirectory);

        string? connectionString = null;
        builder.Eventing.Subscribe<ConnectionStringAvailableEvent>(resource, async (_, ct) =>
            connectionString = await resource.ConnectionStringExpression.GetValueAsync(ct).ConfigureAwait(false));

        var healthCheckKey = $"{name}_check";
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(
            healthCheckKey,
            _ => new RedisHealthCheck(connectionString ?? throw new InvalidOperationException($"The connection string of '{name}' is not available yet.")),
            failureStatus: default,
            tags: default));

        return builder.AddResource(resource)
            .WithEndpoint(name: RedisServerResource.EndpointName, scheme: "tcp")
            .WithArgs(context =>
            {
                var port = resource.PrimaryEndpoint.Property(EndpointProperty.TargetPort);
                context.Args.Add("--port");
                context.Args.Add(port);
                context.Args.Add("--bind");
                context.Args.Add("127.0.0.1");
                context.Args.Add("--save");
                context.Args.Add(string.Empty);
                context.Args.Add("--appendonly");
                context.Args.Add("no");
                context.Args.Add("--protected-mode");
                context.Args.Add("yes");
            })
            .WithHealthCheck(healthCheckKey)
            .ExcludeFromManifest()
            .AsConnectionStringResource();
    }

    /// <summary>Views a resource as its connection string, so both Redis flavours flow through one variable.</summary>
    public static IResourceBuilder<IResourceWithConnectionString> AsConnectionStringResource<T>(this IResourceBuilder<T> builder)
        where T : IResourceWithConnectionString =>
        (IResourceBuilder<IResourceWithConnectionString>)(object)builder;
}
