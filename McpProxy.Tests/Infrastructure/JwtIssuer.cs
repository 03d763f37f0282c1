using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace McpProxy.Tests.Infrastructure;

/// <summary>
/// A token issuer for the tests: real RSA keys, a JWKS served over real HTTP on loopback, and signed JWTs. Keys can
/// be rotated while it runs; <see cref="JwksRequests"/> counts how often the proxy fetched the key set. The JWKS can be
/// made to publish no key (<see cref="ServeEmptyJwks"/>) or go away entirely (<see cref="GoOfflineAsync"/>), and
/// <see cref="TokenWithHeader"/> mints tokens with any JOSE header (<c>typ</c>, <c>crit</c>) and <c>nbf</c>.
/// </summary>
internal sealed class JwtIssuer : IAsyncDisposable
{
    public const string Issuer = "https://issuer.test";
    public const string Audience = "mcp-proxy-tests";

    private readonly WebApplication _app;
    private readonly List<(string Kid, RSA Key)> _keys = [];
    private int _jwksRequests;
    private bool _offline;

    private JwtIssuer(WebApplication app) => _app = app;

    public Uri JwksUri { get; private init; } = null!;

    public int JwksRequests => Volatile.Read(ref _jwksRequests);

    /// <summary>The JWKS endpoint answers <c>{"keys": []}</c> (a key set with no key) while this is set.</summary>
    public bool ServeEmptyJwks { get; set; }

    public static async Task<JwtIssuer> StartAsync()
    {
        JwtIssuer? issuer = null;
        var (app, address) = await LoopbackWebApp.StartAsync(app => app.MapGet("/.well-known/jwks.json", () =>
        {
            Interlocked.Increment(ref issuer!._jwksRequests);
            var keys = issuer._keys.Where(_ => !issuer.ServeEmptyJwks).Select(k =>
            {
                var p = k.Key.ExportParameters(includePrivateParameters: false);
                return new Dictionary<string, string>
                {
                    ["kty"] = "RSA",
                    ["use"] = "sig",
                    ["alg"] = "RS256",
                    ["kid"] = k.Kid,
                    ["n"] = Base64UrlEncoder.Encode(p.Modulus),
                    ["e"] = Base64UrlEncoder.Encode(p.Exponent),
                };
            });
            return Results.Json(new { keys });
        }));
        issuer = new JwtIssuer(app) { JwksUri = new Uri(address, "/.well-known/jwks.json") };
        issuer.RotateKey();
        return issuer;
    }

    /// <summary>Adds a new signing key (published in the JWKS) that new tokens are signed with.</summary>
    public void RotateKey() => _keys.Add(($"key-{_keys.Count + 1}", RSA.Create(2048)));

    /// <summary>The <c>[auth]</c> table for this issuer, with optional extra lines (roles, mapping).</summary>
    public string AuthToml(string extra = "") => $"""
        [auth]
        type = "jwt"
        issuer = "{Issuer}"
        audience = "{Audience}"
        jwks_uri = "{JwksUri}"
        {extra}
        """;

    /// <summary>A signed token; every parameter can be made wrong for the rejection tests.</summary>
    public string Token(
        string subject = "alice",
        string? scope = null,
        string issuer = Issuer,
        string audience = Audience,
        TimeSpan? lifetime = null,
        RSA? signingKey = null,
        string? kid = null)
    {
        var (currentKid, currentKey) = _keys[^1];
        var now = DateTime.UtcNow;
        var expires = now + (lifetime ?? TimeSpan.FromMinutes(10));
        var claims = new Dictionary<string, object> { ["sub"] = subject };
        if (scope is not null)
        {
            claims["scope"] = scope;
        }

        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Claims = claims,
            IssuedAt = expires < now ? expires.AddMinutes(-10) : now,
            NotBefore = expires < now ? expires.AddMinutes(-10) : now,
            Expires = expires,
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(signingKey ?? currentKey) { KeyId = kid ?? currentKid }, SecurityAlgorithms.RsaSha256),
        };
        return new JsonWebTokenHandler().CreateToken(descriptor);
    }

    /// <summary>
    /// A token signed (RS256) with the current key whose JOSE header is exactly <c>alg</c>, <c>kid</c>, then
    /// <paramref name="typ"/> (left out when null) and <paramref name="extraHeader"/>; valid claims, with <c>nbf</c>
    /// set to <paramref name="notBefore"/> when given. Written by hand (not by JsonWebTokenHandler) so that a test
    /// controls every header parameter, absence of <c>typ</c> included.
    /// </summary>
    public string TokenWithHeader(string? typ = "JWT", IReadOnlyDictionary<string, object>? extraHeader = null, DateTimeOffset? notBefore = null, string subject = "alice")
    {
        var (kid, key) = _keys[^1];
        var header = new Dictionary<string, object> { ["alg"] = "RS256", ["kid"] = kid };
        if (typ is not null)
        {
            header["typ"] = typ;
        }

        foreach (var (name, value) in extraHeader ?? new Dictionary<string, object>())
        {
            header[name] = value;
        }

        var now = DateTimeOffset.UtcNow;
        var payload = new Dictionary<string, object>
        {
            ["sub"] = subject,
            ["iss"] = Issuer,
            ["aud"] = Audience,
            ["iat"] = now.ToUnixTimeSeconds(),
            ["exp"] = ((notBefore ?? now) + TimeSpan.FromMinutes(10)).ToUnixTimeSeconds(),
        };
        if (notBefore is { } nbf)
        {
            payload["nbf"] = nbf.ToUnixTimeSeconds();
        }

        var signingInput = $"{Base64UrlEncoder.Encode(System.Text.Json.JsonSerializer.Serialize(header))}.{Base64UrlEncoder.Encode(System.Text.Json.JsonSerializer.Serialize(payload))}";
        var signature = key.SignData(System.Text.Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return $"{signingInput}.{Base64UrlEncoder.Encode(signature)}";
    }

    /// <summary>Stops serving the JWKS: connections to <see cref="JwksUri"/> are refused from now on.</summary>
    public async Task GoOfflineAsync()
    {
        _offline = true;
        await _app.StopAsync();
    }

    /// <summary>An unsigned token (<c>alg: none</c>) with otherwise valid claims.</summary>
    public static string UnsignedToken(string subject = "mallory")
    {
        static string Segment(string json) => Base64UrlEncoder.Encode(json);
        var exp = DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeSeconds();
        return $"{Segment("""{"alg":"none","typ":"JWT"}""")}.{Segment($$"""{"sub":"{{subject}}","iss":"{{Issuer}}","aud":"{{Audience}}","exp":{{exp}}}""")}.";
    }

    public async ValueTask DisposeAsync()
    {
        if (!_offline)
        {
            await _app.StopAsync();
        }

        await _app.DisposeAsync();
        foreach (var (_, key) in _keys)
        {
            key.Dispose();
        }
    }
}
