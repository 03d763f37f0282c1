using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using McpProxy.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Tokens;
using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Security;

/// <summary>
/// JWT edge cases through the real endpoint, with real RSA keys and a real JWKS: critical header extensions, the
/// accepted token types (<c>typ</c>), tokens not valid yet, and a JWKS that is unreachable or has no key.
/// </summary>
public sealed class JwtEdgeCaseTests
{
    private static CancellationToken Ct => TestContext.Timeout(60);

    private static async Task<HttpResponseMessage> InitializeAsync(ProxyHost proxy, string? token)
    {
        using var http = new HttpClient();
        return await http.SendAsync(InitializeRequest(proxy.McpEndpoint, token), Ct);
    }

    private static async Task AssertRefusedAsync(HttpResponseMessage response, string reason, HttpStatusCode status = HttpStatusCode.Unauthorized)
    {
        var text = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == status, $"{(int)response.StatusCode}: {text}");
        Assert.Equal(reason, (string?)JsonNode.Parse(text)!["error_description"]);
    }

    private static async Task<ProxyHost> StartAsync(JwtIssuer issuer, SampleHttpHost backend, string extra = "", CapturingLoggerProvider? logs = null) =>
        await ProxyHost.StartAsync($"""
            {issuer.AuthToml(extra)}

            {backend.Backend("b")}
            """, logging: logs is null ? null : l => l.AddProvider(logs));

    [Fact]
    public async Task A_token_with_a_critical_header_extension_is_refused()
    {
        await using var issuer = await JwtIssuer.StartAsync();
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await StartAsync(issuer, backend);

        // The same token shape without crit is accepted: only the critical extension makes the difference.
        Assert.Equal(HttpStatusCode.OK, (await InitializeAsync(proxy, issuer.TokenWithHeader())).StatusCode);

        // RFC 7515 §4.1.11: a recipient that does not understand a critical extension must reject the token.
        var critical = new Dictionary<string, object> { ["crit"] = new[] { "urn:example:must-check" }, ["urn:example:must-check"] = true };
        await AssertRefusedAsync(await InitializeAsync(proxy, issuer.TokenWithHeader(extraHeader: critical)),
            "the token has a critical header parameter (crit) this resource does not understand");
        var b64 = new Dictionary<string, object> { ["crit"] = new[] { "b64" }, ["b64"] = true };
        await AssertRefusedAsync(await InitializeAsync(proxy, issuer.TokenWithHeader(extraHeader: b64)),
            "the token has a critical header parameter (crit) this resource does not understand");

        // A header that is not JSON at all is just not a valid token (a 401, not a failure of the crit check).
        var garbled = $"{Base64UrlEncoder.Encode("{\"crit\": [")}.{Base64UrlEncoder.Encode("{}")}.c2lnbmF0dXJl";
        await AssertRefusedAsync(await InitializeAsync(proxy, garbled), "the token is not valid");
    }

    [Fact]
    public async Task Token_types_default_to_jwt_access_tokens()
    {
        await using var issuer = await JwtIssuer.StartAsync();
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await StartAsync(issuer, backend);

        // RFC 9068 access tokens (typ at+jwt, in either spelling), and generic JWTs ("JWT", or no typ at all).
        foreach (var typ in new[] { "at+jwt", "application/at+jwt", "AT+JWT", "JWT", "jwt", null })
        {
            Assert.True((await InitializeAsync(proxy, issuer.TokenWithHeader(typ))).StatusCode == HttpStatusCode.OK, $"typ {typ ?? "(absent)"}");
        }

        // Other kinds of JWT signed by the same issuer are not access tokens for this resource.
        foreach (var typ in new[] { "dpop+jwt", "logout+jwt", "secevent+jwt", "id_token+jwt", "JOSE" })
        {
            await AssertRefusedAsync(await InitializeAsync(proxy, issuer.TokenWithHeader(typ)), "the token's type (typ) is not accepted");
        }
    }

    [Fact]
    public async Task Token_types_are_configurable()
    {
        await using var issuer = await JwtIssuer.StartAsync();
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await StartAsync(issuer, backend, "token_types = [\"at+jwt\"]");

        Assert.Equal(HttpStatusCode.OK, (await InitializeAsync(proxy, issuer.TokenWithHeader("at+jwt"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await InitializeAsync(proxy, issuer.TokenWithHeader("application/at+jwt"))).StatusCode);
        foreach (var typ in new[] { "JWT", null })
        {
            await AssertRefusedAsync(await InitializeAsync(proxy, issuer.TokenWithHeader(typ)), "the token's type (typ) is not accepted");
        }
    }

    [Fact]
    public async Task A_token_not_valid_yet_says_so()
    {
        await using var issuer = await JwtIssuer.StartAsync();
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await StartAsync(issuer, backend);

        await AssertRefusedAsync(await InitializeAsync(proxy, issuer.TokenWithHeader(notBefore: DateTimeOffset.UtcNow.AddMinutes(10))), "the token is not valid yet");
        // Within the 30 s clock skew it is accepted.
        Assert.Equal(HttpStatusCode.OK, (await InitializeAsync(proxy, issuer.TokenWithHeader(notBefore: DateTimeOffset.UtcNow.AddSeconds(10)))).StatusCode);
    }

    private const string KeysUnavailable = "the signing keys could not be fetched";

    [Fact]
    public async Task An_unreachable_jwks_is_reported_and_logged_as_such()
    {
        await using var issuer = await JwtIssuer.StartAsync();
        await using var backend = await SampleHttpHost.StartAsync();
        var logs = new CapturingLoggerProvider();
        await using var proxy = await StartAsync(issuer, backend, logs: logs);
        var token = issuer.Token();
        await issuer.GoOfflineAsync();

        // The caller's token may be perfectly good: the proxy cannot check it right now (503, not "invalid token").
        using var response = await InitializeAsync(proxy, token);
        await AssertRefusedAsync(response, KeysUnavailable, HttpStatusCode.ServiceUnavailable);
        Assert.Empty(response.Headers.WwwAuthenticate);

        // Logged at warning with the address and the cause (once per fetch attempt; IdentityModel retries once per token).
        var warnings = logs.Entries.Where(e => e.Level == LogLevel.Warning && e.Message.Contains("JWKS", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(warnings);
        Assert.All(warnings, w => Assert.Contains($"The JWKS at {issuer.JwksUri} gives no signing keys", w.Message, StringComparison.Ordinal));
        Assert.All(warnings, w => Assert.Contains("Connection refused", w.Message, StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task A_jwks_without_keys_is_reported_and_logged_as_such()
    {
        await using var issuer = await JwtIssuer.StartAsync();
        await using var backend = await SampleHttpHost.StartAsync();
        var logs = new CapturingLoggerProvider();
        await using var proxy = await StartAsync(issuer, backend, logs: logs);
        issuer.ServeEmptyJwks = true;

        await AssertRefusedAsync(await InitializeAsync(proxy, issuer.Token()), KeysUnavailable, HttpStatusCode.ServiceUnavailable);
        var warnings = logs.Entries.Where(e => e.Level == LogLevel.Warning && e.Message.Contains("JWKS", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(warnings);
        Assert.All(warnings, w => Assert.Contains("the key set has no signing key", w.Message, StringComparison.Ordinal));

        // Once the keys are published, the same token is accepted (the next request fetches them again).
        issuer.ServeEmptyJwks = false;
        await WaitUntil(async () => (await InitializeAsync(proxy, issuer.Token())).StatusCode == HttpStatusCode.OK);
    }

    [Fact]
    public async Task Keys_already_fetched_keep_working_while_the_jwks_is_down_and_a_new_kid_says_why_it_fails()
    {
        await using var issuer = await JwtIssuer.StartAsync();
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await StartAsync(issuer, backend);
        var known = issuer.Token();
        Assert.Equal(HttpStatusCode.OK, (await InitializeAsync(proxy, known)).StatusCode);

        await issuer.GoOfflineAsync();
        issuer.RotateKey();
        var rotated = issuer.Token();
        // The unknown kid makes the proxy refetch (at most once a second); the refetch fails, and the answer says so.
        await WaitUntil(async () =>
        {
            using var response = await InitializeAsync(proxy, rotated);
            return response.StatusCode == HttpStatusCode.ServiceUnavailable
                && (string?)(await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!["error_description"] == KeysUnavailable;
        });
        Assert.Equal(HttpStatusCode.OK, (await InitializeAsync(proxy, known)).StatusCode);
    }
}
