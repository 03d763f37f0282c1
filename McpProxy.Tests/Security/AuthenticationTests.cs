using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using McpProxy.Tests.Infrastructure;
using ModelContextProtocol.Client;
using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Security;

/// <summary>
/// <c>[auth]</c> through the real endpoint: static bearer tokens, and JWTs from a JWKS served over real HTTP with real
/// RSA keys. Every rejection answers 401 with <c>WWW-Authenticate</c> and a reason.
/// </summary>
public sealed class AuthenticationTests
{
    private static CancellationToken Ct => TestContext.Timeout(60);

    /// <summary>A raw MCP initialize POST, as a client's first request.</summary>
    internal static async Task<HttpResponseMessage> InitializeAsync(ProxyHost proxy, string? token)
    {
        using var http = new HttpClient();
        return await http.SendAsync(InitializeRequest(proxy.McpEndpoint, token), Ct);
    }

    internal static async Task AssertUnauthorizedAsync(HttpResponseMessage response, string? error, string reason)
    {
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var challenge = response.Headers.WwwAuthenticate.ToString();
        Assert.StartsWith("Bearer", challenge, StringComparison.Ordinal);
        if (error is not null)
        {
            Assert.Contains($"error=\"{error}\"", challenge, StringComparison.Ordinal);
        }

        var body = (await response.Content.ReadFromJsonAsync<JsonObject>(Ct))!;
        Assert.Equal(reason, (string?)body["error_description"]);
    }

    [Fact]
    public async Task Bearer_tokens_are_required_and_checked()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync("""
            [auth]
            type = "bearer"
            tokens = ["first-token-aaaaaaaa", "second-token-bbbbbbb"]

            """ + backend.Backend("b"));

        await AssertUnauthorizedAsync(await InitializeAsync(proxy, null), null, "a bearer token is required");
        await AssertUnauthorizedAsync(await InitializeAsync(proxy, "wrong-token"), "invalid_token", "the bearer token is not valid");
        await AssertUnauthorizedAsync(await InitializeAsync(proxy, "first-token-aaaaaaa"), "invalid_token", "the bearer token is not valid"); // a prefix

        foreach (var token in new[] { "first-token-aaaaaaaa", "second-token-bbbbbbb" })
        {
            await using var client = await proxy.ConnectAsync(cancellationToken: Ct, bearerToken: token);
            Assert.Equal("ok", Text(await client.CallToolAsync("b/echo", Message("ok"), cancellationToken: Ct)));
        }

        // Health stays open.
        using var http = new HttpClient { BaseAddress = proxy.BaseAddress };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/alive", Ct)).StatusCode);
    }

    /// <summary>An HS256 token with otherwise valid claims, its HMAC key being public knowledge (an RSA modulus, say).</summary>
    internal static string HmacToken()
    {
        using var rsa = RSA.Create(2048);
        var descriptor = new Microsoft.IdentityModel.Tokens.SecurityTokenDescriptor
        {
            Issuer = JwtIssuer.Issuer,
            Audience = JwtIssuer.Audience,
            Claims = new Dictionary<string, object> { ["sub"] = "mallory" },
            Expires = DateTime.UtcNow.AddMinutes(10),
            SigningCredentials = new Microsoft.IdentityModel.Tokens.SigningCredentials(
                new Microsoft.IdentityModel.Tokens.SymmetricSecurityKey(rsa.ExportParameters(false).Modulus) { KeyId = "key-1" },
                Microsoft.IdentityModel.Tokens.SecurityAlgorithms.HmacSha256),
        };
        return new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler().CreateToken(descriptor);
    }

    [Fact]
    public async Task Rotated_signing_keys_are_fetched_from_the_jwks()
    {
        await using var issuer = await JwtIssuer.StartAsync();
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync($"""
            {issuer.AuthToml()}

            {backend.Backend("b")}
            """);

        Assert.Equal(HttpStatusCode.OK, (await InitializeAsync(proxy, issuer.Token())).StatusCode);
        var fetches = issuer.JwksRequests;

        // A new kid the proxy has not seen: it refetches the JWKS (at most once a second) and accepts the new key.
        issuer.RotateKey();
        var token = issuer.Token();
        await WaitUntil(async () => (await InitializeAsync(proxy, token)).StatusCode == HttpStatusCode.OK);
        Assert.True(issuer.JwksRequests > fetches);
    }
}
