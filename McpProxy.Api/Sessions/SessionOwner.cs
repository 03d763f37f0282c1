using System.Security.Claims;

namespace McpProxy.Sessions;

/// <summary>
/// The user a legacy session is bound to: the claims the SDK binds a session by (name identifier, <c>sub</c>, UPN), each
/// with its issuer. The fast path serves a session's request only for the same owner; anything else takes the typed
/// path, where the SDK answers it (403).
/// </summary>
/// <remarks>
/// Stricter than the SDK's own check on purpose (all three claims, not the first one found): when the two disagree, the
/// request goes to the SDK, which decides.
/// </remarks>
internal readonly record struct SessionOwner(OwnerClaim NameIdentifier, OwnerClaim Subject, OwnerClaim Upn)
{
    public static SessionOwner Of(ClaimsPrincipal? user) => user is null
        ? default
        : new(Find(user, ClaimTypes.NameIdentifier), Find(user, "sub"), Find(user, ClaimTypes.Upn));

    private static OwnerClaim Find(ClaimsPrincipal user, string type) =>
        user.FindFirst(type) is { } claim ? new(claim.Value, claim.Issuer) : default;
}

/// <summary>One claim's value and issuer (default: absent).</summary>
internal readonly record struct OwnerClaim(string? Value, string? Issuer);
