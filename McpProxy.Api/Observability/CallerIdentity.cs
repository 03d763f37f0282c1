using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;

namespace McpProxy.Observability;

/// <summary>Who is calling, as one stable string: for audit events and for keeping cached results per user.</summary>
internal static class CallerIdentity
{
    public const string Anonymous = "anonymous";

    /// <summary>
    /// <c>sub</c>, the name identifier, <c>client_id</c> or the name of an authenticated caller; an authenticated caller
    /// with none of them is identified by a hash of its claims (never the claims themselves); otherwise "anonymous".
    /// </summary>
    public static string Of(ClaimsPrincipal? user)
    {
        if (user?.Identity?.IsAuthenticated != true)
        {
            return Anonymous;
        }

        var id = user.FindFirst("sub")?.Value
            ?? user.FindFirst(ClaimTypes.NameIdentifier)?.Value
            ?? user.FindFirst("client_id")?.Value
            ?? user.Identity.Name;
        if (!string.IsNullOrEmpty(id))
        {
            return id;
        }

        var claims = string.Join('\n', user.Claims.Select(c => c.Type + "=" + c.Value).Order(StringComparer.Ordinal));
        return "claims:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(claims)))[..16];
    }
}
