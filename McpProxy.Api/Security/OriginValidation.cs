using System.Net;
using McpProxy.Configuration;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace McpProxy.Security;

/// <summary>
/// DNS-rebinding protection, as the MCP transport spec requires. <b>Host</b>: when the proxy listens on loopback only,
/// a request whose <c>Host</c> is not <c>localhost</c>, <c>127.0.0.1</c> or <c>[::1]</c> (any port) is refused — a
/// rebound attacker domain resolves to 127.0.0.1 but keeps its own name in <c>Host</c>; <c>[security] allowed_hosts</c>
/// replaces that default (<c>"*"</c> = any). <b>Origin</b>: a request that carries one is refused unless it is listed in
/// <c>[security] allowed_origins</c> (<c>"*"</c> = any), or — only while the proxy listens on loopback only — its host
/// is a loopback name or a name listed in <c>allowed_hosts</c> (names the operator says point at this machine; a
/// rebound page's origin carries the attacker's name). The <c>Host</c> header never makes an origin trusted: a rebound
/// page's <c>Origin</c> equals its <c>Host</c>. Requests without <c>Origin</c> (non-browser clients) pass the Origin
/// check. Refusals are 403 with a JSON-RPC error naming the header.
/// </summary>
internal sealed partial class OriginValidation(RequestDelegate next, ProxyConfig config, IServer server, ILogger<OriginValidation> logger)
{
    private static readonly string[] LoopbackHosts = ["localhost", "127.0.0.1", "::1", "[::1]"];
    private readonly HashSet<string> _allowedOrigins = new(config.Security.AllowedOrigins.Select(o => o.TrimEnd('/')), StringComparer.OrdinalIgnoreCase);
    private Rules? _rules;

    /// <summary>What the listening addresses decide, resolved at the first request (Kestrel's addresses are known by then).</summary>
    /// <param name="Hosts">Host names accepted (empty: any).</param>
    /// <param name="OriginHosts">Hosts whose origins (any scheme http/https, any port) pass without being listed; empty beyond loopback.</param>
    private sealed record Rules(HashSet<string> Hosts, HashSet<string> OriginHosts);

    public Task InvokeAsync(HttpContext context)
    {
        var rules = _rules ??= ResolveRules();
        var host = context.Request.Host.Host;
        if (rules.Hosts.Count > 0 && !rules.Hosts.Contains(host))
        {
            return RefuseAsync(context, $"Host '{context.Request.Host}' is not allowed (add it to [security] allowed_hosts).");
        }

        if (context.Request.Headers.Origin.ToString() is { Length: > 0 } origin && !IsAllowedOrigin(origin, rules))
        {
            return RefuseAsync(context, $"Origin '{origin}' is not allowed (add it to [security] allowed_origins).");
        }

        return next(context);
    }

    private bool IsAllowedOrigin(string origin, Rules rules)
    {
        if (_allowedOrigins.Contains("*") || _allowedOrigins.Contains(origin.TrimEnd('/')))
        {
            return true;
        }

        return rules.OriginHosts.Count > 0
            && Uri.TryCreate(origin, UriKind.Absolute, out var uri)
            && uri.Scheme is "http" or "https"
            && rules.OriginHosts.Contains(uri.Host);
    }

    private Rules ResolveRules()
    {
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var loopbackOnly = addresses.Count > 0 && addresses.All(IsLoopbackAddress);
        var configured = config.Security.AllowedHosts;

        // Hosts: the configured names; by default the loopback names when every listening address is loopback, else any.
        var hosts = configured is not null
            ? configured.Contains("*") ? [] : new HashSet<string>(configured, StringComparer.OrdinalIgnoreCase)
            : loopbackOnly ? new HashSet<string>(LoopbackHosts, StringComparer.OrdinalIgnoreCase) : [];

        // Origins without an allowed_origins entry: only on a loopback-only listener, where a page on a loopback name (or
        // on a name the operator listed as this machine's) is local. Beyond loopback, allowed_origins alone decides.
        var originHosts = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        if (loopbackOnly)
        {
            originHosts.UnionWith(LoopbackHosts);
            originHosts.UnionWith((configured ?? []).Where(h => h != "*"));
        }

        return new Rules(hosts, originHosts);
    }

    private static bool IsLoopbackAddress(string address)
    {
        var host = address.Split("://", 2)[^1];
        host = host.StartsWith('[') ? host[..(host.IndexOf(']', StringComparison.Ordinal) + 1)] : host.Split(':')[0];
        return host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
            || (IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
    }

    private async Task RefuseAsync(HttpContext context, string message)
    {
        LogRefused(message);
        await RequestGuard.WriteAsync(context, StatusCodes.Status403Forbidden, message);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "DNS-rebinding protection refused a request: {Reason}")]
    private partial void LogRefused(string reason);
}
