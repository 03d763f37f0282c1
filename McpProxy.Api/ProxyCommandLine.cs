using McpProxy.Configuration;

namespace McpProxy;

/// <summary>
/// The proxy's own command-line options: <c>--config FILE</c> (default <c>mcp-proxy.toml</c>, or
/// <c>MCP_PROXY_CONFIG</c>) and <c>--check</c> (validate and exit). Everything else goes to ASP.NET Core.
/// </summary>
internal sealed record ProxyCommandLine(string ConfigPath, bool Check, string[] HostArgs)
{
    public static ProxyCommandLine Parse(string[] args)
    {
        string? config = null;
        var check = false;
        var rest = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--config" or "-c" when i + 1 < args.Length:
                    config = args[++i];
                    break;
                case var a when a.StartsWith("--config=", StringComparison.Ordinal):
                    config = a["--config=".Length..];
                    break;
                case "--check":
                    check = true;
                    break;
                default:
                    rest.Add(args[i]);
                    break;
            }
        }

        config ??= Environment.GetEnvironmentVariable("MCP_PROXY_CONFIG") ?? "mcp-proxy.toml";
        return new ProxyCommandLine(config, check, [.. rest]);
    }

    /// <summary>Loads the config, or prints every problem to stderr and returns the exit code to stop with.</summary>
    public ProxyConfig? TryLoad(TextWriter output, TextWriter error, out int exitCode)
    {
        exitCode = 0;
        if (!File.Exists(ConfigPath))
        {
            error.WriteLine($"mcp-proxy: config file not found: {Path.GetFullPath(ConfigPath)}");
            exitCode = 2;
            return null;
        }

        try
        {
            var config = Resilience.PipelineDryRun.ThrowIfInvalid(ConfigLoader.LoadFile(ConfigPath));
            if (Check)
            {
                output.WriteLine($"{ConfigPath}: OK ({config.Backends.Count} backends: {string.Join(", ", config.Backends.Select(b => $"{b.Name} [{b.Transport.ToString().ToLowerInvariant()}]"))})");
            }

            return config;
        }
        catch (ConfigException ex)
        {
            error.WriteLine($"mcp-proxy: {ex.Errors.Count} problem(s) in {ConfigPath}:");
            foreach (var e in ex.Errors)
            {
                error.WriteLine("  " + e);
            }

            exitCode = 1;
            return null;
        }
    }
}
