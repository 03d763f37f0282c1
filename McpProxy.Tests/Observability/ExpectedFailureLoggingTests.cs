using McpProxy.Observability;
using McpProxy.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;

namespace McpProxy.Tests.Observability;

/// <summary>Unit tests of <see cref="ExpectedFailureLogging"/>: which SDK entries go to debug, and that filters still apply.</summary>
public sealed class ExpectedFailureLoggingTests
{
    private static (ILoggerFactory Factory, CapturingLoggerProvider Logs, ServiceProvider Services) Build(LogLevel minimum)
    {
        var logs = new CapturingLoggerProvider();
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddProvider(logs).SetMinimumLevel(minimum));
        services.DemoteExpectedSdkFailures();
        var provider = services.BuildServiceProvider();
        return (provider.GetRequiredService<ILoggerFactory>(), logs, provider);
    }

    [Fact]
    public void An_sdk_entry_for_a_json_rpc_error_or_a_cancellation_goes_to_debug_with_its_exception()
    {
        var (factory, logs, services) = Build(LogLevel.Debug);
        using var _ = services;
        var sdk = factory.CreateLogger("ModelContextProtocol.Server.McpServer");

        sdk.LogError(new McpProtocolException("Backend 'b' is unavailable", McpErrorCode.InternalError), "\"b/echo\" threw an unhandled exception.");
        sdk.LogWarning(new OperationCanceledException(), "request handler failed");

        Assert.All(logs.Entries, e =>
        {
            Assert.Equal(LogLevel.Debug, e.Level);
            Assert.NotNull(e.Exception);
        });
        Assert.Equal(2, logs.Entries.Count);
    }

    [Fact]
    public void A_bug_in_the_sdk_category_and_any_entry_of_another_category_keep_their_level()
    {
        var (factory, logs, services) = Build(LogLevel.Debug);
        using var _ = services;

        factory.CreateLogger("ModelContextProtocol.Server.McpServer").LogError(new InvalidOperationException("bug"), "\"b/echo\" threw an unhandled exception.");
        factory.CreateLogger("McpProxy.Routing.ProxyHandlers").LogError(new McpProtocolException("x", McpErrorCode.InternalError), "ours");
        factory.CreateLogger("ModelContextProtocol.Server.McpServer").LogWarning("no exception");

        Assert.Equal([LogLevel.Error, LogLevel.Error, LogLevel.Warning], logs.Entries.Select(e => e.Level));
    }

    [Fact]
    public void A_demoted_entry_obeys_the_configured_minimum_level()
    {
        var (factory, logs, services) = Build(LogLevel.Information);
        using var _ = services;

        factory.CreateLogger("ModelContextProtocol.Server.McpServer").LogError(new McpProtocolException("x", McpErrorCode.InternalError), "failed");

        Assert.Empty(logs.Entries);
    }
}
