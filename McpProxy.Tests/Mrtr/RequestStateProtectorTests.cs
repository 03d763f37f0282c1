using System.Security.Cryptography;
using McpProxy.Configuration;
using McpProxy.Mrtr;
using Microsoft.Extensions.Time.Testing;
using ModelContextProtocol;

namespace McpProxy.Tests.Mrtr;

/// <summary>The sealing of the requestState the proxy issues: round trip, tampering, keys and their rotation, binding, expiry.</summary>
public sealed class RequestStateProtectorTests
{
    private static readonly string KeyA = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    private static readonly string KeyB = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    private static RequestStateProtector Protector(TimeProvider? time = null, int ttl = 300, params string[] keys) =>
        new(new MrtrConfig { StateKeys = keys, StateTtlSeconds = ttl }, time ?? TimeProvider.System);

    private static MrtrState State(string backendState = "backend-state-1") => new()
    {
        Kind = StateKind.Pass,
        Backend = "s",
        Method = "tools/call",
        Item = RequestStateProtector.Digest("s/ask"),
        Caller = RequestStateProtector.Digest("alice"),
        BackendState = backendState,
    };

    private static string Refusal(Action open)
    {
        var ex = Assert.Throws<McpProtocolException>(open);
        Assert.Equal(McpErrorCode.InvalidParams, ex.ErrorCode);
        return ex.Message;
    }

    [Fact]
    public void A_sealed_state_opens_to_what_was_sealed_and_hides_the_backend_state()
    {
        var protector = Protector(keys: KeyA);
        var sealedState = protector.Seal(State("secret-backend-state"));

        Assert.StartsWith(RequestStateProtector.Prefix, sealedState, StringComparison.Ordinal);
        Assert.DoesNotContain("secret-backend-state", sealedState, StringComparison.Ordinal);
        var opened = protector.Open(sealedState, "tools/call", "s/ask", "alice");
        Assert.Equal("secret-backend-state", opened.BackendState);
        Assert.Equal("s", opened.Backend);
        Assert.False(protector.Ephemeral);
    }

    [Fact]
    public void Every_altered_byte_is_refused()
    {
        var protector = Protector(keys: KeyA);
        var sealedState = protector.Seal(State());
        var payloadStart = sealedState.LastIndexOf('.') + 1;
        for (var i = payloadStart; i < sealedState.Length; i += 7)
        {
            var chars = sealedState.ToCharArray();
            chars[i] = chars[i] == 'A' ? 'B' : 'A';
            var tampered = new string(chars);
            Assert.Contains("not issued by this proxy or was altered", Refusal(() => protector.Open(tampered, "tools/call", "s/ask", "alice")), StringComparison.Ordinal);
        }

        Assert.Contains("altered", Refusal(() => protector.Open("plain-backend-state", "tools/call", "s/ask", "alice")), StringComparison.Ordinal);
        Assert.Contains("altered", Refusal(() => protector.Open(sealedState[..^4], "tools/call", "s/ask", "alice")), StringComparison.Ordinal);
    }

    [Fact]
    public void Another_key_cannot_open_it_and_rotation_keeps_old_states_valid()
    {
        var old = Protector(keys: KeyA);
        var issuedBefore = old.Seal(State());

        Refusal(() => Protector(keys: KeyB).Open(issuedBefore, "tools/call", "s/ask", "alice"));
        Refusal(() => Protector().Open(issuedBefore, "tools/call", "s/ask", "alice")); // a random per-process key

        // Rotation: the new key first seals, the previous one still opens.
        var rotated = Protector(keys: [KeyB, KeyA]);
        Assert.Equal("backend-state-1", rotated.Open(issuedBefore, "tools/call", "s/ask", "alice").BackendState);
        var issuedAfter = rotated.Seal(State());
        Assert.Equal("backend-state-1", Protector(keys: KeyB).Open(issuedAfter, "tools/call", "s/ask", "alice").BackendState);
        Refusal(() => old.Open(issuedAfter, "tools/call", "s/ask", "alice"));
    }

    [Fact]
    public void It_is_bound_to_the_caller_the_method_and_the_item()
    {
        var protector = Protector(keys: KeyA);
        var sealedState = protector.Seal(State());

        Assert.Contains("another caller", Refusal(() => protector.Open(sealedState, "tools/call", "s/ask", "mallory")), StringComparison.Ordinal);
        Assert.Contains("another request", Refusal(() => protector.Open(sealedState, "tools/call", "s/other", "alice")), StringComparison.Ordinal);
        Refusal(() => protector.Open(sealedState, "prompts/get", "s/ask", "alice"));
    }

    [Fact]
    public void It_expires_after_the_configured_time()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var protector = Protector(time, 60, KeyA);
        var sealedState = protector.Seal(State());

        time.Advance(TimeSpan.FromSeconds(59));
        protector.Open(sealedState, "tools/call", "s/ask", "alice");
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Contains("expired", Refusal(() => protector.Open(sealedState, "tools/call", "s/ask", "alice")), StringComparison.Ordinal);
    }

    [Fact]
    public void Config_reads_the_keys_with_expansion_and_refuses_a_key_that_is_not_32_bytes()
    {
        var config = ConfigLoader.Parse(
            "[proxy.mrtr]\nstate_keys = [\"${KEY}\", \"${PREVIOUS:-}\"]\nstate_ttl_seconds = 60\n",
            "/tmp/t.toml",
            name => name == "KEY" ? KeyA : null);
        Assert.Equal([KeyA], config.Proxy.Mrtr.StateKeys);
        Assert.Equal(60, config.Proxy.Mrtr.StateTtlSeconds);

        var ex = Assert.ThrowsAny<Exception>(() => ConfigLoader.Parse("[proxy.mrtr]\nstate_keys = [\"c2hvcnQ=\"]\n", "/tmp/t.toml", _ => null));
        Assert.Contains("32 random bytes", ex.Message, StringComparison.Ordinal);
    }
}
