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

/// <summary>Neither <c>[auth]</c> nor <c>admin_token</c> is configured: the admin API answers loopback callers only.</summary>
internal sealed class LoopbackRequirement : AuthorizationHandler<LoopbackRequirement>, IAuthorizationRequirement
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, LoopbackRequirement requirement)
    {
        if (context.Resource is HttpContext { Connection.RemoteIpAddress: { } ip } && IPAddress.IsLoopback(ip))
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }
}

/// <summary>
/// Answers the refusals that ASP.NET Core would leave bare with a reason: an authenticated caller that maps to no role
/// gets <b>403</b> with <c>WWW-Authenticate: Bearer error="insufficient_scope"</c> (RFC 6750) and a JSON reason; a
/// non-loopback caller of an admin API that has no credentials configured gets <b>403</b> (not the 500 a challenge
/// without any authentication scheme would give). Everything else goes to the default handler (401 challenges).
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

        // A challenge carries no failure details; the policy says whether the loopback rule was what failed.
        if ((authorizeResult.Challenged || authorizeResult.Forbidden) && policy.Requirements.OfType<LoopbackRequirement>().Any())
        {
            await Challenges.WriteAsync(context, resourceMetadataUrl: null, error: null,
                "the admin API answers loopback callers only unless [auth] or [security] admin_token is configured",
                StatusCodes.Status403Forbidden);
            return;
        }

        await _default.HandleAsync(next, context, policy, authorizeResult);
    }

    private static string MappingClaim(HttpContext context) =>
        context.RequestServices.GetRequiredService<Configuration.ProxyConfig>().Auth?.RoleMapping?.Claim ?? "scope";
}
