using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace McpProxy.Security;

/// <summary>
/// Fetches a bare JWKS document (<c>[auth] jwks_uri</c>) for JwtBearer, which expects an OpenID configuration: the keys
/// are wrapped in one, so JwtBearer's <see cref="ConfigurationManager{T}"/> caches them, refreshes them periodically
/// and re-fetches when a token names an unknown key id (key rotation). IdentityModel has no JWKS-only retriever.
/// </summary>
internal sealed class JwksRetriever(string issuer) : IConfigurationRetriever<OpenIdConnectConfiguration>
{
    public async Task<OpenIdConnectConfiguration> GetConfigurationAsync(string address, IDocumentRetriever retriever, CancellationToken cancel)
    {
        var document = await retriever.GetDocumentAsync(address, cancel).ConfigureAwait(false);
        var keys = new JsonWebKeySet(document);
        var configuration = new OpenIdConnectConfiguration { Issuer = issuer, JsonWebKeySet = keys, JwksUri = address };
        foreach (var key in keys.GetSigningKeys())
        {
            configuration.SigningKeys.Add(key);
        }

        return configuration;
    }
}
