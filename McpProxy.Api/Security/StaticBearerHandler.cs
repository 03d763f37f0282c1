using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace McpProxy.Security;

internal sealed class StaticBearerOptions : AuthenticationSchemeOptions
{
    /// <summary>SHA-256 digests of the accepted tokens (the tokens themselves are not kept here).</summary>
    public IReadOnlyList<byte[]> TokenDigests { get; set; } = [];

    /// <summary>Name given to an authenticated caller's identity (<c>sub</c> becomes <c>{SubjectPrefix}:{digest prefix}</c>).</summary>
    public string SubjectPrefix { get; set; } = "token";

    public static byte[] Digest(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));
}

/// <summary>
/// <c>[auth] type = "bearer"</c> (and the admin token): the <c>Authorization: Bearer</c> token is compared with every
/// configured token in constant time (SHA-256 digests compared with <see cref="CryptographicOperations.FixedTimeEquals"/>,
/// so neither content nor length leaks through timing). ASP.NET Core has no static-token handler, hence this one.
/// The token never reaches a log; the caller is identified by a prefix of its digest.
/// </summary>
internal sealed class StaticBearerHandler(IOptionsMonitor<StaticBearerOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<StaticBearerOptions>(options, logger, encoder)
{
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (BearerToken.From(Request) is not { } token)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var digest = StaticBearerOptions.Digest(token);
        var match = -1;
        for (var i = 0; i < Options.TokenDigests.Count; i++)
        {
            // Every token is compared, whatever matched before: the time taken does not say which one matched.
            if (CryptographicOperations.FixedTimeEquals(digest, Options.TokenDigests[i]))
            {
                match = i;
            }
        }

        if (match < 0)
        {
            return Task.FromResult(AuthenticateResult.Fail("invalid token"));
        }

        var subject = $"{Options.SubjectPrefix}:{Convert.ToHexStringLower(digest)[..12]}";
        var identity = new ClaimsIdentity(
            [new Claim("sub", subject), new Claim(ClaimTypes.Name, subject), new Claim(BearerToken.AccessTokenClaim, token)],
            Scheme.Name);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name)));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var failure = (await HandleAuthenticateOnceSafeAsync()).Failure;
        await Challenges.WriteAsync(Context, resourceMetadataUrl: null, failure is null ? null : "invalid_token",
            failure is null ? "a bearer token is required" : "the bearer token is not valid");
    }
}

/// <summary>The caller's bearer token: read from the request, carried in one internal claim for <c>forward_auth</c>.</summary>
internal static class BearerToken
{
    /// <summary>Internal claim with the caller's raw token; only the forward_auth handler reads it, nothing logs it.</summary>
    public const string AccessTokenClaim = "urn:mcp-proxy:access_token";

    public static string? From(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && header.Length > 7 ? header[7..].Trim() : null;
    }

    public static string? Of(ClaimsPrincipal? user) => user?.FindFirst(AccessTokenClaim)?.Value;
}

/// <summary>
/// 401 and 403 responses: <c>WWW-Authenticate: Bearer</c> (with <c>resource_metadata</c> for OAuth, and the RFC 6750
/// <c>error</c>) on every 401 and on a 403 that names an error, and a JSON reason.
/// </summary>
internal static class Challenges
{
    /// <param name="bodyError">The body's <c>error</c> when no RFC 6750 <paramref name="error"/> applies (no header then).</param>
    public static async Task WriteAsync(
        HttpContext context, string? resourceMetadataUrl, string? error, string description, int status = StatusCodes.Status401Unauthorized, string? bodyError = null)
    {
        if (context.Response.HasStarted)
        {
            return; // a policy with two schemes challenges twice: the first answer stands
        }

        var header = new StringBuilder("Bearer realm=\"mcp-proxy\"");
        if (resourceMetadataUrl is not null)
        {
            header.Append(", resource_metadata=\"").Append(resourceMetadataUrl).Append('"');
        }

        if (error is not null)
        {
            header.Append(", error=\"").Append(error).Append("\", error_description=\"").Append(description).Append('"');
        }

        context.Response.StatusCode = status;
        if (status == StatusCodes.Status401Unauthorized || error is not null)
        {
            context.Response.Headers.WWWAuthenticate = header.ToString();
        }

        await context.Response.WriteAsJsonAsync(new
        {
            error = error ?? bodyError ?? (status == StatusCodes.Status401Unauthorized ? "unauthorized" : "forbidden"),
            error_description = description,
        });
    }
}
