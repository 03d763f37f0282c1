using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using McpProxy.Tests.Infrastructure;
using static McpProxy.Tests.Infrastructure.TestCalls;
using static McpProxy.Tests.Security.AuthenticationTests;

namespace McpProxy.Tests.Security;

/// <summary>One proxy with <c>[auth] type = "jwt"</c> on a JWKS served over real HTTP.</summary>
public sealed class JwtAuthenticationFixture : IAsyncLifetime
{
    internal JwtIssuer Issuer { get; private set; } = null!;
    internal SampleHttpHost Backend { get; private set; } = null!;
    internal ProxyHost Proxy { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Issuer = await JwtIssuer.StartAsync();
        Backend = await SampleHttpHost.StartAsync();
        Proxy = await ProxyHost.StartAsync($"""
            {Issuer.AuthToml()}

            {Backend.Backend("b")}
            """);
    }

    public async Task DisposeAsync()
    {
        await Proxy.DisposeAsync();
        await Backend.DisposeAsync();
        await Issuer.DisposeAsync();
    }
}

/// <summary>A JWT from the JWKS is accepted; every bad token is refused with its own reason (one test each, so one failing case hides no other).</summary>
public sealed class JwtAuthenticationTests(JwtAuthenticationFixture fixture) : IClassFixture<JwtAuthenticationFixture>
{
    private static CancellationToken Ct => TestContext.Timeout(60);

    private ProxyHost Proxy => fixture.Proxy;
    private string MetadataUrl => $"{Proxy.BaseAddress.ToString().TrimEnd('/')}/.well-known/oauth-protected-resource/mcp";

    [Fact]
    public async Task A_jwt_from_the_jwks_is_accepted()
    {
        await using var client = await Proxy.ConnectAsync(cancellationToken: Ct, bearerToken: fixture.Issuer.Token());
        Assert.Equal("ok", Text(await client.CallToolAsync("b/echo", Message("ok"), cancellationToken: Ct)));
    }

    [Fact]
    public async Task A_missing_token_gets_401_pointing_at_the_protected_resource_metadata()
    {
        // Missing: 401 pointing at the protected resource metadata (RFC 9728), as the MCP authorization spec requires.
        var missing = await InitializeAsync(Proxy, null);
        await AssertUnauthorizedAsync(missing, null, "a bearer token is required");
        Assert.Contains($"resource_metadata=\"{MetadataUrl}\"", missing.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_protected_resource_metadata_names_the_endpoint_and_the_issuer()
    {
        using var http = new HttpClient();
        var metadata = (await http.GetFromJsonAsync<JsonObject>(MetadataUrl, Ct))!;
        Assert.Equal(Proxy.McpEndpoint.ToString(), (string?)metadata["resource"]);
        Assert.Equal(JwtIssuer.Issuer, (string?)metadata["authorization_servers"]![0]);
        Assert.NotNull(await http.GetFromJsonAsync<JsonObject>(new Uri(Proxy.BaseAddress, "/.well-known/oauth-protected-resource"), Ct));
    }

    [Theory]
    [InlineData("expired", "the token has expired")]
    [InlineData("foreign-issuer", "the token's issuer is not accepted")]
    [InlineData("foreign-audience", "the token's audience is not this resource")]
    [InlineData("right-kid-wrong-key", "the token's signature is not valid")]
    [InlineData("unknown-kid", "the token's signature is not valid")]
    [InlineData("unsigned", "the token is not signed")]
    [InlineData("hs256-key-confusion", "the token's signature is not valid")] // HS256 keyed with public material: only RS/PS/ES are accepted
    [InlineData("not-a-jwt", "the token is not valid")]
    public async Task A_bad_token_is_refused_with_its_reason(string kind, string reason)
    {
        using var stranger = RSA.Create(2048);
        var issuer = fixture.Issuer;
        var token = kind switch
        {
            "expired" => issuer.Token(lifetime: TimeSpan.FromMinutes(-5)),
            "foreign-issuer" => issuer.Token(issuer: "https://evil.test"),
            "foreign-audience" => issuer.Token(audience: "someone-else"),
            "right-kid-wrong-key" => issuer.Token(signingKey: stranger),
            "unknown-kid" => issuer.Token(signingKey: stranger, kid: "unknown-kid"),
            "unsigned" => JwtIssuer.UnsignedToken(),
            "hs256-key-confusion" => HmacToken(),
            "not-a-jwt" => "not.a.jwt",
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
        };

        await AssertUnauthorizedAsync(await InitializeAsync(Proxy, token), "invalid_token", reason);
    }
}
