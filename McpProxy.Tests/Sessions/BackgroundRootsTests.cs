using McpProxy.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace McpProxy.Tests.Sessions;

/// <summary>
/// A backend that asks <c>roots/list</c> when no client call is in flight (server-everything does right after
/// initialize, before any client is connected) gets a clean answer — an empty list — not an error logged with a stack trace.
/// </summary>
public sealed class BackgroundRootsTests
{
    [Fact]
    public async Task Roots_list_with_no_client_to_ask_is_answered_with_an_empty_list_and_logs_no_exception()
    {
        var logs = new CapturingLoggerProvider();
        await using var proxy = await ProxyHost.StartAsync(TestPaths.EverythingStdioBackend("e"), logging: l => l.AddProvider(logs));

        // The backend's roots/list reached the proxy's client handler and was answered.
        await TestCalls.WaitUntil(() => logs.Entries.Any(e => e.Message.Contains("'roots/list' request handler completed", StringComparison.Ordinal)));

        Assert.DoesNotContain(logs.Entries, e => e.Level >= LogLevel.Warning && e.Exception is not null);
        Assert.DoesNotContain(logs.Entries, e => e.Message.Contains("roots/list", StringComparison.Ordinal) && e.Level >= LogLevel.Warning);
    }
}
