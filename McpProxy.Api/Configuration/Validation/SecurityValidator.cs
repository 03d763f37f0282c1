namespace McpProxy.Configuration.Validation;

/// <summary><c>[security]</c>: the admin token's length, origins and host names.</summary>
internal sealed class SecurityValidator : IConfigValidator
{
    public void Validate(ProxyConfig config, ConfigErrors diagnostics)
    {
        var security = config.Security;
        if (diagnostics.SectionOf(security) is not { } s)
        {
            return;
        }

        if (s.Usable("admin_token") && (security.AdminToken ?? "").Trim().Length < 16)
        {
            s.Error("admin_token", "must be at least 16 characters (it guards the admin API)");
        }

        foreach (var origin in s.Usable("allowed_origins") ? security.AllowedOrigins : [])
        {
            if (origin != "*" && !(Uri.TryCreate(origin, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.AbsolutePath == "/"))
            {
                s.Error("allowed_origins", $"'{origin}' is not an origin (scheme://host[:port], or \"*\")");
            }
        }

        foreach (var host in security.AllowedHosts ?? [])
        {
            // Compared with the Host header's name, without its port: "localhost", "127.0.0.1", "[::1]", "mcp.example.com".
            if (host != "*" && Uri.CheckHostName(host.Trim('[', ']')) == UriHostNameType.Unknown)
            {
                s.Error("allowed_hosts", $"'{host}' is not a host name (a name or IP address without scheme, port or path, or \"*\")");
            }
        }
    }
}
