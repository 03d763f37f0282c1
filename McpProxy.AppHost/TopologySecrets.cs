using System.Text.RegularExpressions;

namespace McpProxy.AppHost;

/// <summary>The environment variables the topology's config references without a default: each becomes a secret parameter.</summary>
public static partial class TopologySecrets
{
    /// <summary>The proxy's client bearer token in the topology's config (<c>[auth] tokens</c>).</summary>
    public const string ProxyToken = "MCP_PROXY_TOKEN";

    /// <summary>The proxy's admin token in the topology's config (<c>[security] admin_token</c>).</summary>
    public const string ProxyAdminToken = "MCP_PROXY_ADMIN_TOKEN";

    /// <summary>Names in <c>${NAME}</c> references (not <c>${NAME:-default}</c>, not escaped <c>$${NAME}</c>), in order, once each.</summary>
    public static IReadOnlyList<string> RequiredVariables(string toml) =>
        toml.Split('\n')
            .Where(line => !line.TrimStart().StartsWith('#')) // a commented-out example backend needs no secret
            .SelectMany(line => Reference().Matches(line))
            .Where(m => !m.Groups["escaped"].Success)
            .Select(m => m.Groups["name"].Value)
            .Distinct(StringComparer.Ordinal)
            .ToArray();

    /// <summary><c>GITHUB_TOKEN</c> → <c>github-token</c> (Aspire parameter names; azd shows them as such).</summary>
    public static string ParameterName(string variable) => variable.ToLowerInvariant().Replace('_', '-');

    [GeneratedRegex(@"(?<escaped>\$)?\$\{(?<name>[A-Za-z_][A-Za-z0-9_]*)\}")]
    private static partial Regex Reference();
}
