using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace McpProxy.Security;

/// <summary>
/// Fetches a bare JWKS document (<c>[auth] jwks_uri</c>) for JwtBearer, which expects an OpenID configuration: the keys
/// are wrapped in one, so JwtBearer's <see cref="ConfigurationManager{T}"/> caches them, refreshes them periodically
/// and re-fetches when a token names an unknown key id (key rotation). IdentityModel has no JWKS-only retriever.
/// A fetch that fails, or a key set without a signing key, is logged at warning with its cause and recorded in
/// <see cref="JwksStatus"/>. A failed fetch throws (the configuration manager then keeps the keys it had); an empty
/// key set is returned as such, so that emptying the JWKS does revoke every key.
/// </summary>
internal sealed partial class JwksRetriever(string issuer, JwksStatus status, ILogger<JwksRetriever> logger) : IConfigurationRetriever<OpenIdConnectConfiguration>
{
    public async Task<OpenIdConnectConfiguration> GetConfigurationAsync(string address, IDocumentRetriever retriever, CancellationToken cancel)
    {
        JsonWebKeySet keys;
        try
        {
            var document = await retriever.GetDocumentAsync(address, cancel).ConfigureAwait(false);
            keys = new JsonWebKeySet(document);
        }
        catch (Exception ex)
        {
            Fail(address, ex);
            throw;
        }

        var configuration = new OpenIdConnectConfiguration { Issuer = issuer, JsonWebKeySet = keys, JwksUri = address };
        foreach (var key in keys.GetSigningKeys())
        {
            configuration.SigningKeys.Add(key);
        }

        if (configuration.SigningKeys.Count == 0)
        {
            Fail(address, new JwksWithoutKeysException());
        }
        else
        {
            status.Succeeded();
        }

        return configuration;
    }

    private void Fail(string address, Exception ex)
    {
        status.Failed(ex);
        // The innermost message is the cause ("Connection refused", a JSON error); IdentityModel's own wrappers hide
        // the address as PII. The address is logged without its query string (which could carry a credential).
        var cause = ex;
        while (cause.InnerException is not null)
        {
            cause = cause.InnerException;
        }

        var uri = Uri.TryCreate(address, UriKind.Absolute, out var parsed) ? parsed.GetLeftPart(UriPartial.Path) : "[auth] jwks_uri";
        LogJwksUnavailable(uri, cause.Message);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The JWKS at {JwksUri} gives no signing keys, so JWTs cannot be checked until it does: {Cause}")]
    private partial void LogJwksUnavailable(string jwksUri, string cause);
}
