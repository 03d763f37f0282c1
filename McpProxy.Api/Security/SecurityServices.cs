using McpProxy.Configuration;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace McpProxy.Security;

/// <summary>
/// Security: who may call the MCP endpoint (<c>[auth]</c>: static bearer tokens or JWT from a JWKS, with OAuth 2.0
/// Protected Resource Metadata), what each caller may use (<see cref="AccessPolicy"/>), the admin API's guard,
/// DNS-rebinding protection (<see cref="OriginValidation"/>), request size limits and safe error answers
/// (<see cref="RequestGuard"/>), refusals with reasons (<see cref="AuthorizationResults"/>), and <c>forward_auth</c>.
/// </summary>
internal static class SecurityServices
{
    public const string ClientPolicy = "mcp-proxy-client";
    public const string AdminPolicy = "mcp-proxy-admin";
    public const string BearerScheme = "McpProxyBearer";
    public const string AdminTokenScheme = "McpProxyAdminToken";
    public const string ProtectedResourceMetadataPath = "/.well-known/oauth-protected-resource";

    private static readonly string[] AllowedAlgorithms =
    [
        SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512,
        SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.RsaSsaPssSha384, SecurityAlgorithms.RsaSsaPssSha512,
        SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384, SecurityAlgorithms.EcdsaSha512,
    ];

    public static void AddProxySecurity(this WebApplicationBuilder builder, ProxyConfig config)
    {
        var services = builder.Services;
        var auth = config.Auth;
        var security = config.Security;
        services.AddSingleton<AccessPolicy>();

        builder.WebHost.ConfigureKestrel(o => o.Limits.MaxRequestBodySize = security.EffectiveMaxRequestBody);

        if (!HasAuthenticationScheme(config))
        {
            // Nothing to authenticate: without authentication services ASP.NET Core adds no authentication middleware, which
            // would otherwise open a service scope on every request to find no scheme.
            AddPolicies(services, mainScheme: null, security);
            return;
        }

        var authentication = services.AddAuthentication();
        string? mainScheme = null;
        if (auth?.Type == AuthType.Bearer)
        {
            mainScheme = BearerScheme;
            authentication.AddScheme<StaticBearerOptions, StaticBearerHandler>(BearerScheme, o =>
                o.TokenDigests = [.. auth.Tokens.Select(StaticBearerOptions.Digest)]);
        }
        else if (auth?.Type == AuthType.Jwt)
        {
            mainScheme = JwtBearerDefaults.AuthenticationScheme;
            authentication.AddJwtBearer();
            services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
                .Configure<ILogger<JwksRetriever>>((o, logger) => ConfigureJwt(o, auth, config.Proxy.Listen.Path, logger));
        }

        if (security.AdminToken is { } adminToken)
        {
            authentication.AddScheme<StaticBearerOptions, StaticBearerHandler>(AdminTokenScheme, o =>
            {
                o.TokenDigests = [StaticBearerOptions.Digest(adminToken)];
                o.SubjectPrefix = "admin";
            });
        }

        AddPolicies(services, mainScheme, security);
    }

    private static void AddPolicies(IServiceCollection services, string? mainScheme, SecurityConfig security)
    {
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, AuthorizationResults>();
        services.AddAuthorizationBuilder()
            .AddPolicy(ClientPolicy, policy =>
            {
                if (mainScheme is null)
                {
                    policy.RequireAssertion(_ => true);
                    return;
                }

                policy.AddAuthenticationSchemes(mainScheme).RequireAuthenticatedUser();
                // RBAC: a caller that maps to no role (and no default_role) is refused outright (403), not given full access.
                policy.AddRequirements(new MappedRoleRequirement());
            })
            .AddPolicy(AdminPolicy, policy =>
            {
                string[] schemes = [.. new[] { mainScheme, security.AdminToken is null ? null : AdminTokenScheme }.OfType<string>()];
                if (schemes.Length > 0)
                {
                    // The admin token, or a caller of the proxy's own auth in an [auth] admin_roles role.
                    policy.AddAuthenticationSchemes(schemes).RequireAuthenticatedUser();
                    policy.AddRequirements(new AdminRequirement());
                }
                else
                {
                    // Neither configured: the admin API answers direct (not relayed) loopback callers only.
                    policy.AddRequirements(new LoopbackRequirement(security.AdminAllowForwarded));
                }
            });
    }

    /// <summary>Whether callers of the MCP endpoint authenticate (<c>[auth]</c> bearer or JWT): its policy has something to check.</summary>
    public static bool AuthenticatesCallers(ProxyConfig config) => config.Auth?.Type is AuthType.Bearer or AuthType.Jwt;

    private static bool HasAuthenticationScheme(ProxyConfig config) => AuthenticatesCallers(config) || config.Security.AdminToken is not null;

    /// <summary>What every request passes first: the body limit and error guard, then the Origin check.</summary>
    public static void UseProxyRequestChecks(this WebApplication app)
    {
        app.UseMiddleware<RequestGuard>();
        app.UseMiddleware<OriginValidation>();
    }

    /// <summary>Authentication (when a scheme is configured), authorization, and the RFC 9728 metadata of JWT auth.</summary>
    public static void UseProxyAuthorization(this WebApplication app, ProxyConfig config)
    {
        if (HasAuthenticationScheme(config))
        {
            // Without a scheme there is nothing to authenticate: the middleware would only resolve its services per request.
            app.UseAuthentication();
        }

        app.UseAuthorization();
        if (config.Auth?.Type == AuthType.Jwt)
        {
            // RFC 9728, at the root and path-aware (/.well-known/oauth-protected-resource/mcp).
            app.MapGet(ProtectedResourceMetadataPath, ProtectedResourceMetadata).AllowAnonymous();
            app.MapGet(ProtectedResourceMetadataPath + config.Proxy.Listen.Path, ProtectedResourceMetadata).AllowAnonymous();
        }
    }

    private static IResult ProtectedResourceMetadata(HttpContext http, ProxyConfig config)
    {
        var auth = config.Auth!;
        var scopes = auth.RoleMapping is { Claim: "scope" } mapping ? mapping.Mapping.Keys.Order(StringComparer.Ordinal).ToArray() : [];
        return TypedResults.Json(new Dictionary<string, object>
        {
            ["resource"] = $"{http.Request.Scheme}://{http.Request.Host}{config.Proxy.Listen.Path}",
            ["authorization_servers"] = new[] { auth.Issuer! },
            ["bearer_methods_supported"] = new[] { "header" },
            ["scopes_supported"] = scopes,
            ["resource_name"] = config.Proxy.Name,
        });
    }

    private static void ConfigureJwt(JwtBearerOptions options, AuthConfig auth, string mcpPath, ILogger<JwksRetriever> logger)
    {
        var jwksUri = new Uri(auth.JwksUri!);
        var jwks = new JwksStatus();
        options.TokenHandlers.Clear();
        options.TokenHandlers.Add(new CriticalHeaderAwareJwtHandler());
        options.MapInboundClaims = false; // keep "sub", "scope" and friends as the token names them
        options.RefreshOnIssuerKeyNotFound = true;
        options.ConfigurationManager = new ConfigurationManager<OpenIdConnectConfiguration>(
            jwksUri.ToString(),
            new JwksRetriever(auth.Issuer!, jwks, logger),
            new HttpDocumentRetriever { RequireHttps = !jwksUri.IsLoopback })
        {
            // Keys are re-read every hour, and at most once a second when a token names a key id not seen yet
            // (rotation): that token is refused, the keys are refetched, and the next one is accepted.
            AutomaticRefreshInterval = TimeSpan.FromHours(1),
            RefreshInterval = TimeSpan.FromSeconds(1),
        };
        options.TokenValidationParameters = new TokenValidationParameters
        {
            ValidateIssuer = true,
            ValidIssuer = auth.Issuer,
            ValidateAudience = true,
            ValidAudience = auth.Audience,
            ValidateLifetime = true,
            RequireExpirationTime = true,
            RequireSignedTokens = true, // alg "none" is refused
            ValidateIssuerSigningKey = true,
            ValidAlgorithms = AllowedAlgorithms,
            TypeValidator = new TokenTypes(auth.TokenTypes).Validate,
            ClockSkew = TimeSpan.FromSeconds(30),
        };
        options.Events = new JwtBearerEvents
        {
            OnTokenValidated = ctx =>
            {
                // Kept for forward_auth only (see BearerToken); never logged.
                if (BearerToken.From(ctx.Request) is { } raw && ctx.Principal?.Identity is System.Security.Claims.ClaimsIdentity identity)
                {
                    identity.AddClaim(new System.Security.Claims.Claim(BearerToken.AccessTokenClaim, raw));
                }

                return Task.CompletedTask;
            },
            OnChallenge = async ctx =>
            {
                ctx.HandleResponse();
                if (ctx.AuthenticateFailure is SecurityTokenSignatureKeyNotFoundException && jwks.Failing)
                {
                    // No key to check the token with because the JWKS failed (logged by JwksRetriever): the token may
                    // well be valid, so not a 401 that would send an OAuth client to discard it, but a 503.
                    await Challenges.WriteAsync(ctx.HttpContext, resourceMetadataUrl: null, error: null,
                        "the signing keys could not be fetched", StatusCodes.Status503ServiceUnavailable, "temporarily_unavailable");
                    return;
                }

                var metadata = $"{ctx.Request.Scheme}://{ctx.Request.Host}{ProtectedResourceMetadataPath}{mcpPath}";
                await Challenges.WriteAsync(ctx.HttpContext, metadata, ctx.AuthenticateFailure is null ? null : "invalid_token", Describe(ctx.AuthenticateFailure));
            },
        };
    }

    /// <summary>Why a token was refused, in words a client developer can act on (no token content).</summary>
    private static string Describe(Exception? failure) => failure switch
    {
        null => "a bearer token is required",
        _ when failure.Message.Contains("IDX10504", StringComparison.Ordinal) => "the token is not signed",
        SecurityTokenExpiredException => "the token has expired",
        SecurityTokenNotYetValidException => "the token is not valid yet",
        SecurityTokenInvalidIssuerException => "the token's issuer is not accepted",
        SecurityTokenInvalidAudienceException => "the token's audience is not this resource",
        SecurityTokenInvalidAlgorithmException => "the token's signing algorithm is not accepted",
        SecurityTokenSignatureKeyNotFoundException or SecurityTokenInvalidSignatureException => "the token's signature is not valid",
        SecurityTokenNoExpirationException => "the token has no expiry",
        SecurityTokenCriticalHeaderException => "the token has a critical header parameter (crit) this resource does not understand",
        SecurityTokenInvalidTypeException => "the token's type (typ) is not accepted",
        _ => "the token is not valid",
    };

}
