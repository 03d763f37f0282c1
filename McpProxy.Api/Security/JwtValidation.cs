using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace McpProxy.Security;

/// <summary>
/// JsonWebTokenHandler plus RFC 7515 §4.1.11: a token whose JOSE header has <c>crit</c> names extensions its recipient
/// must understand, and this proxy understands none (IdentityModel ignores <c>crit</c>), so such a token is refused
/// before anything else is checked.
/// </summary>
internal sealed class CriticalHeaderAwareJwtHandler : JsonWebTokenHandler
{
    public override Task<TokenValidationResult> ValidateTokenAsync(string token, TokenValidationParameters validationParameters)
    {
        if (HasCriticalHeader(token))
        {
            return Task.FromResult(new TokenValidationResult { IsValid = false, Exception = new SecurityTokenCriticalHeaderException() });
        }

        return base.ValidateTokenAsync(token, validationParameters);
    }

    /// <summary>Whether the token's header names <c>crit</c>; a token that cannot be read is left to the base validation's answer.</summary>
    private bool HasCriticalHeader(string token)
    {
        try
        {
            return CanReadToken(token) && ReadJsonWebToken(token).TryGetHeaderValue<object>("crit", out _);
        }
        catch (ArgumentException)
        {
            return false; // malformed (SecurityTokenMalformedException is one): the base validation refuses it as such
        }
    }
}

/// <summary>The token names a critical header extension (<c>crit</c>) this proxy does not implement.</summary>
internal sealed class SecurityTokenCriticalHeaderException()
    : SecurityTokenValidationException("The token has a 'crit' header parameter; no critical extension is supported.");

/// <summary>
/// <c>[auth] token_types</c>: the accepted JWT <c>typ</c> values. Compared case-insensitively with an
/// <c>application/</c> prefix left out (RFC 7515 §4.1.9: <c>application/at+jwt</c> is <c>at+jwt</c>); a token without
/// <c>typ</c> counts as <c>JWT</c> (RFC 7519 §5.1: <c>typ</c> is optional, <c>JWT</c> being the generic type). Written
/// here because IdentityModel's <c>ValidTypes</c> compares ordinally and refuses an absent <c>typ</c>.
/// </summary>
internal sealed class TokenTypes(IEnumerable<string> accepted)
{
    private readonly HashSet<string> _accepted = new(accepted.Select(Normalize), StringComparer.OrdinalIgnoreCase);

    public string Validate(string? type, SecurityToken token, TokenValidationParameters parameters) =>
        _accepted.Contains(Normalize(string.IsNullOrEmpty(type) ? "JWT" : type))
            ? type ?? ""
            : throw new SecurityTokenInvalidTypeException("The token's 'typ' header is not an accepted token type.") { InvalidType = type };

    private static string Normalize(string type) =>
        type.StartsWith("application/", StringComparison.OrdinalIgnoreCase) ? type["application/".Length..] : type;
}

/// <summary>
/// Whether the last attempt to get the signing keys from <c>[auth] jwks_uri</c> failed (unreachable, not a key set,
/// or a key set with no signing key). A token refused for want of a matching key while this is set is answered
/// "the signing keys could not be fetched", not "the signature is not valid": the fault is the proxy's, not the token's.
/// </summary>
internal sealed class JwksStatus
{
    private volatile Exception? _lastFailure;

    public bool Failing => _lastFailure is not null;

    public void Failed(Exception cause) => _lastFailure = cause;

    public void Succeeded() => _lastFailure = null;
}

/// <summary>The JWKS was fetched but holds no key usable for signature validation.</summary>
internal sealed class JwksWithoutKeysException()
    : InvalidOperationException("the key set has no signing key (no RSA or EC key with use \"sig\" or no use)");
