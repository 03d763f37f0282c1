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
/// <c>[security] allowed_origins</c> (<c>"*"</c> = any), or its host is an allowed host, or (when any host is allowed)
/// it is the proxy's own origin. Requests without <c>Origin</c> (non-browser clients) pass the Origin check.
/// Refusals are 403 with a JSON-RPC error naming the header.
/// </summary>
internal sealed partial class OriginValidation(RequestDelegate next, ProxyConfig config, IServer server, ILogger<OriginValidation> logger)
{
    private static readonly string[] LoopbackHosts = ["localhost", "127.0.0.1", "::1", "[::1]"];
    private readonly HashSet<string> _allowedOrigins = new(config.Security.AllowedOrigins.Select(o => o.TrimEnd('/')), StringComparer.OrdinalIgnoreCase);
    private HashSet<string>? _allowedHosts;

    public async Task InvokeAsync(HttpContext context)
    {
        var hosts = _allowedHosts ??= ResolveAllowedHosts();
        var host = context.Request.Host.Host;
        if (hosts.Count > 0 && !hosts.Contains(host))
        {
            await RefuseAsync(context, $"Host '{context.Request.Host}' is not allowed (add it to [security] allowed_hosts).");
            return;
        }

        if (context.Request.Headers.Origin.ToString() is { Length: > 0 } origin && !IsAllowedOrigin(origin, context.Request, hosts))
        {
            await RefuseAsync(context, $"Origin '{origin}' is not allowed (add it to [security] allowed_origins).");
            return;
        }

        await next(context);
    }

    private bool IsAllowedOrigin(string origin, HttpRequest request, HashSet<string> hosts)
    {
        if (_allowedOrigins.Contains("*") || _allowedOrigins.Contains(origin.TrimEnd('/')))
        {
            return true;
        }

        if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri))
        {
            return false;
        }

        return hosts.Count > 0
            ? hosts.Contains(uri.Host)
            : string.Equals(uri.Scheme, request.Scheme, StringComparison.OrdinalIgnoreCase)
              && string.Equals(uri.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>The configured hosts; by default the loopback names when every listening address is loopback, else any (empty).</summary>
    private HashSet<string> ResolveAllowedHosts()
    {
        if (config.Security.AllowedHosts is { } configured)
        {
            return configured.Contains("*") ? [] : new HashSet<string>(configured, StringComparer.OrdinalIgnoreCase);
        }

        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var loopbackOnly = addresses.Count > 0 && addresses.All(IsLoopbackAddress);
        return loopbackOnly ? new HashSet<string>(LoopbackHosts, StringComparer.OrdinalIgnoreCase) : [];
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
