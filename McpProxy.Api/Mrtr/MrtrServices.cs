using McpProxy.Configuration;
using Microsoft.Extensions.Hosting;

namespace McpProxy.Mrtr;

internal static partial class MrtrServices
{
    /// <summary>The <c>requestState</c> keys (<c>[proxy.mrtr]</c>), the parked exchanges of this replica, owner routing and the bridge.</summary>
    public static IServiceCollection AddProxyMrtr(this IServiceCollection services)
    {
        services.AddSingleton(sp => new RequestStateProtector(sp.GetRequiredService<ProxyConfig>().Proxy.Mrtr, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<BridgeRegistry>();
        services.AddSingleton<OwnerRouting>();
        services.AddHostedService(sp => sp.GetRequiredService<OwnerRouting>());
        services.AddSingleton<MrtrBridge>();
        services.AddHostedService<EphemeralKeyWarning>();
        return services;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "[proxy.mrtr] state_keys is not set: the requestState of input_required results is sealed with a random key of this process. With more than one replica, set the same state_keys on every replica (README: \"requestState key\").")]
    private static partial void LogEphemeralKey(ILogger logger);

    /// <summary>Warns once at start when no key is configured.</summary>
    private sealed class EphemeralKeyWarning(RequestStateProtector states, ILogger<RequestStateProtector> logger) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            if (states.Ephemeral)
            {
                LogEphemeralKey(logger);
            }

            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
