using System.Security.Cryptography;
using McpProxy.Admin;
using McpProxy.Mrtr;
using McpProxy.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace McpProxy.Tests.Mrtr;

/// <summary>The requestState key at start: a warning when none is configured; a configured key is a secret.</summary>
public sealed class StateKeyStartupTests
{
    [Fact]
    public async Task Without_a_key_the_proxy_warns_at_start_and_with_one_it_does_not()
    {
        var logs = new CapturingLoggerProvider();
        await using (var proxy = await ProxyHost.StartAsync("", logging: l => l.AddProvider(logs)))
        {
            Assert.True(proxy.Services.GetRequiredService<RequestStateProtector>().Ephemeral);
        }

        Assert.Contains(logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("state_keys is not set", StringComparison.Ordinal));

        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        var quiet = new CapturingLoggerProvider();
        await using (var proxy = await ProxyHost.StartAsync(
            "[proxy]\nname = \"p\"\n[proxy.listen]\nport = 0\n[proxy.mrtr]\nstate_keys = [\"${STATE_KEY}\"]\n",
            name => name == "STATE_KEY" ? key : null,
            logging: l => l.AddProvider(quiet)))
        {
            Assert.False(proxy.Services.GetRequiredService<RequestStateProtector>().Ephemeral);
            Assert.DoesNotContain(key, ConfigRedaction.ToJson(ConfigRedaction.Redact(proxy.Config, proxy.Config.Backends)), StringComparison.Ordinal);
        }

        Assert.DoesNotContain(quiet.Entries, e => e.Message.Contains("state_keys is not set", StringComparison.Ordinal));
    }
}
