using System.Net;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;

namespace McpProxy.Security;

/// <summary>
/// The caller maps to at least one role (or <c>default_role</c> applies): the MCP endpoint's RBAC gate. Requirement and
/// handler in one, like ASP.NET Core's own assertion requirement (the pass-through handler evaluates it).
/// </summary>
internal sealed class MappedRoleRequirement : AuthorizationHandler<MappedRoleRequirement>, IAuthorizationRequirement
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, MappedRoleRequirement requirement)
    {
        if (context.Resource is HttpContext http && http.RequestServices.GetRequiredService<AccessPolicy>().For(context.User) is not null)
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }
}

/// <summary>
/// The admin API with <c>[auth]</c> or <c>admin_token</c> configured: the caller holds the admin token, or resolves to
/// a role listed in <c>[auth] admin_roles</c> (<see cref="AccessPolicy.IsAdmin"/>). Any other authenticated caller —
/// one in other roles, one that maps to no role, a static bearer token without an admin <c>default_role</c> — is not
/// an admin (403).
/// </summary>
internal sealed class AdminRequirement : AuthorizationHandler<AdminRequirement>, IAuthorizationRequirement
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, AdminRequirement requirement)
    {
        var adminToken = context.User.Identities.Any(i => i.IsAuthenticated && i.AuthenticationType == SecurityServices.AdminTokenScheme);
        if (adminToken || (context.Resource is HttpContext http && http.RequestServices.GetRequiredService<AccessPolicy>().IsAdmin(context.User)))
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }
}

/// <summary>
/// Neither <c>[auth]</c> nor <c>admin_token</c> is configured: the admin API answers <b>direct</b> loopback callers
/// only. A reverse proxy on the same host connects from loopback on behalf of anyone, so a loopback request that
/// carries forwarding headers (<see cref="ForwardingHeaders"/>) is treated as remote unless
/// <c>[security] admin_allow_forwarded</c> says the proxy in front guards the admin API itself.
/// </summary>
internal sealed class LoopbackRequirement(bool allowForwarded) : AuthorizationHandler<LoopbackRequirement>, IAuthorizationRequirement
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, LoopbackRequirement requirement)
    {
        if (context.Resource is HttpContext http && IsLoopback(http) && (allowForwarded || !ForwardingHeaders.Present(http.Request)))
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }

    public static bool IsLoopback(HttpContext http) => http.Connection.RemoteIpAddress is { } ip && IPAddress.IsLoopback(ip);
}

/// <summary>The headers by which a reverse proxy (or ASP.NET Core's forwarded-headers middleware) says it relayed a request.</summary>
internal static class ForwardingHeaders
{
    // Forwarded (RFC 7239), the de-facto X-Forwarded-* family (For, Host, Proto, Port, Prefix...), X-Real-IP (nginx),
    // X-Client-IP, Via (RFC 9110: every intermediary), and X-Original-For (what UseForwardedHeaders leaves behind).
    private static readonly string[] Names = ["Forwarded", "X-Real-IP", "X-Client-IP", "Via", "X-Original-For"];

    public static bool Present(HttpRequest request) =>
        request.Headers.Keys.Any(name =>
            name.StartsWith("X-Forwarded-", StringComparison.OrdinalIgnoreCase) || Names.Contains(name, StringComparer.OrdinalIgnoreCase));
}

/// <summary>
/// Answers the refusals that ASP.NET Core would leave bare with a reason: an authenticated caller that maps to no role
/// gets <b>403</b> with <c>WWW-Authenticate: Bearer error="insufficient_scope"</c> (RFC 6750) and a JSON reason, and so
/// does an authenticated caller of the admin API that is not an admin; a non-loopback (or relayed) caller of an admin
/// API that has no credentials configured gets <b>403</b> (not the 500 a challenge without any authentication scheme
/// would give). Everything else goes to the default handler (401 challenges).
/// </summary>
internal sealed class AuthorizationResults : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        var failed = authorizeResult.AuthorizationFailure?.FailedRequirements.ToList() ?? [];
        if (authorizeResult.Forbidden && failed.Count > 0 && failed.All(r => r is MappedRoleRequirement))
        {
            await Challenges.WriteAsync(context, resourceMetadataUrl: null, "insufficient_scope",
                $"the token maps to no role ([auth.role_mapping] on claim '{MappingClaim(context)}') and there is no [auth] default_role",
                StatusCodes.Status403Forbidden);
            return;
        }

        if (authorizeResult.Forbidden && failed.Count > 0 && failed.All(r => r is AdminRequirement))
        {
            await Challenges.WriteAsync(context, resourceMetadataUrl: null, "insufficient_scope",
                "the admin API needs a caller in an [auth] admin_roles role or the [security] admin_token",
                StatusCodes.Status403Forbidden);
            return;
        }

        // A challenge carries no failure details; the policy says whether the loopback rule was what failed.
        if ((authorizeResult.Challenged || authorizeResult.Forbidden) && policy.Requirements.OfType<LoopbackRequirement>().Any())
        {
            var relayed = LoopbackRequirement.IsLoopback(context);
            await Challenges.WriteAsync(context, resourceMetadataUrl: null, error: null,
                relayed
                    ? "the admin API answers direct loopback callers only unless [auth] or [security] admin_token is configured; " +
                      "this request was relayed by a proxy (it carries forwarding headers)"
                    : "the admin API answers loopback callers only unless [auth] or [security] admin_token is configured",
                StatusCodes.Status403Forbidden);
            return;
        }

        await _default.HandleAsync(next, context, policy, authorizeResult);
    }

    private static string MappingClaim(HttpContext context) =>
        context.RequestServices.GetRequiredService<Configuration.ProxyConfig>().Auth?.RoleMapping?.Claim ?? "scope";
}
