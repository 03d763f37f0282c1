using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using McpProxy.Configuration;

namespace McpProxy;

/// <summary>
/// The proxy's command line, parsed by System.CommandLine: <c>--config FILE</c> (default <c>MCP_PROXY_CONFIG</c>,
/// else <c>mcp-proxy.toml</c>), <c>--check</c>, <c>--help</c>, <c>--version</c>, and the ASP.NET Core host options
/// <c>--urls</c> and <c>--environment</c>, which go to the host with every <c>--Section:Key=value</c> configuration
/// override. Anything else (a typo such as <c>--chek</c>) is a usage error with a suggestion: exit code 2, nothing
/// starts.
/// </summary>
internal sealed record ProxyCommandLine(string ConfigPath, bool Check, string[] HostArgs)
{
    public const int ExitOk = 0;
    public const int ExitInvalidConfig = 1;
    public const int ExitUsage = 2;
    public const string DefaultConfigFile = "mcp-proxy.toml";
    public const string ConfigVariable = "MCP_PROXY_CONFIG";

    /// <summary>
    /// Parses <paramref name="args"/>. Returns null when the process should stop now: after <c>--help</c> or
    /// <c>--version</c> (exit code 0, printed on <paramref name="output"/>) or a usage error (exit code 2, printed on
    /// <paramref name="error"/> with a suggestion for a mistyped option).
    /// </summary>
    public static ProxyCommandLine? Parse(string[] args, TextWriter output, TextWriter error, out int exitCode)
    {
        var grammar = new Grammar();
        var (own, configOverrides) = SplitConfigurationOverrides(args, grammar.Root);
        var result = grammar.Root.Parse(own, new ParserConfiguration { ResponseFileTokenReplacer = null });

        if (result.Action is not null)
        {
            // --help, --version or a parse error: the library prints it (with typo suggestions for unknown options).
            if (result.Action is ParseErrorAction parseError)
            {
                parseError.ShowHelp = false;
                parseError.ShowTypoCorrections = true;
            }

            // A usage error goes to stderr whole (the library writes its suggestions to Output).
            var failed = result.Action is ParseErrorAction;
            var code = result.Invoke(new InvocationConfiguration { Output = failed ? error : output, Error = error, EnableDefaultExceptionHandler = false });
            if (failed)
            {
                error.WriteLine($"Run '{grammar.Root.Name} --help' for the options.");
                exitCode = ExitUsage;
            }
            else
            {
                exitCode = code;
            }

            return null;
        }

        var hostArgs = new List<string>();
        foreach (var option in grammar.HostOptions)
        {
            if (result.GetValue(option) is { } value)
            {
                hostArgs.Add(option.Name);
                hostArgs.Add(value);
            }
        }

        hostArgs.AddRange(configOverrides);
        var config = result.GetValue(grammar.Config);
        if (string.IsNullOrEmpty(config))
        {
            config = Environment.GetEnvironmentVariable(ConfigVariable) is { Length: > 0 } fromEnv ? fromEnv : DefaultConfigFile;
        }

        exitCode = ExitOk;
        return new ProxyCommandLine(config, result.GetValue(grammar.Check), [.. hostArgs]);
    }

    /// <summary>
    /// Takes ASP.NET Core configuration overrides out of the arguments: <c>--Section:Key=value</c>, or
    /// <c>--Section:Key value</c> (the host's command-line configuration provider reads both). Their keys are open
    /// ended, so they cannot be declared as options; they are recognised by the <c>:</c> in the key, which none of the
    /// proxy's own options has — a plain unknown word such as <c>--chek</c> still reaches the parser and fails there.
    /// </summary>
    private static (string[] Own, List<string> Overrides) SplitConfigurationOverrides(string[] args, RootCommand root)
    {
        var own = new List<string>();
        var overrides = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg == "--")
            {
                own.AddRange(args[i..]);
                break;
            }

            var key = arg.Split('=', 2)[0];
            var colon = key.IndexOf(':', StringComparison.Ordinal);
            var isOverride = key.StartsWith("--", StringComparison.Ordinal) && colon > 2 && colon < key.Length - 1
                && !root.Options.Any(o => o.Name == key[..colon] || o.Aliases.Contains(key[..colon]));
            if (!isOverride)
            {
                own.Add(arg);
                continue;
            }

            overrides.Add(arg);
            if (!arg.Contains('=', StringComparison.Ordinal) && i + 1 < args.Length)
            {
                overrides.Add(args[++i]);
            }
        }

        return ([.. own], overrides);
    }

    /// <summary>
    /// <c>--check</c>: the name policy's rule, and every rewrite that config alone determines (aliases). Names the
    /// backends publish are only known once they run: the proxy logs each rewrite at startup and serves the list at
    /// <c>GET /admin/names</c>.
    /// </summary>
    private static void WriteNames(TextWriter output, ProxyConfig config)
    {
        var policy = new Routing.NamePolicy(config.Proxy.Names, config.Proxy.Separator);
        output.WriteLine(policy.Describe());
        foreach (var backend in config.Backends.Where(b => b.MirrorOf is null))
        {
            var prefix = backend.Namespaced ? backend.Name : null;
            foreach (var alias in backend.Aliases)
            {
                var canonical = policy.Canonical(prefix, alias.To);
                var exposed = policy.Expose(prefix, alias.To);
                output.WriteLine(exposed == canonical ? $"  tool '{canonical}' (alias of '{alias.From}')" : $"  tool '{canonical}' (alias of '{alias.From}') is exposed as '{exposed}'");
            }
        }

        output.WriteLine("  (names the backends publish follow the same rule; the proxy logs each rewrite at startup and lists them at GET /admin/names)");
    }

    /// <summary>Loads the config, or prints every problem to stderr and returns the exit code to stop with.</summary>
    public ProxyConfig? TryLoad(TextWriter output, TextWriter error, out int exitCode)
    {
        exitCode = ExitOk;
        if (!File.Exists(ConfigPath))
        {
            error.WriteLine($"mcp-proxy: config file not found: {Path.GetFullPath(ConfigPath)}");
            error.WriteLine($"  (--config FILE, or the {ConfigVariable} environment variable; relative paths resolve against the current directory)");
            exitCode = ExitUsage;
            return null;
        }

        try
        {
            var warnings = new List<ConfigError>();
            var config = Resilience.PipelineDryRun.ThrowIfInvalid(ConfigLoader.LoadFile(ConfigPath, warnings: warnings));
            if (Check)
            {
                var backends = config.Backends.Count == 0
                    ? "no backends"
                    : $"{config.Backends.Count} backends: {string.Join(", ", config.Backends.Select(b => $"{b.Name} [{b.Transport.ToString().ToLowerInvariant()}]"))}";
                output.WriteLine($"{ConfigPath}: OK ({backends}{(warnings.Count == 0 ? "" : $"; {warnings.Count} warning(s)")})");
                WriteNames(output, config);
            }

            foreach (var warning in warnings)
            {
                error.WriteLine("mcp-proxy: warning: " + warning);
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

            exitCode = ExitInvalidConfig;
            return null;
        }
    }

    /// <summary>The options, their help texts and the extra help sections.</summary>
    private sealed class Grammar
    {
        public Grammar()
        {
            Root = new RootCommand("McpProxy: a config-driven reverse proxy for the Model Context Protocol. One Streamable HTTP endpoint in front of many MCP servers.")
            {
                Config, Check, Urls, Environment,
            };
            HostOptions = [Urls, Environment];

            foreach (var help in Root.Options.OfType<HelpOption>())
            {
                if (help.Action is HelpAction action)
                {
                    help.Action = new HelpWithMore(action);
                }
            }
        }

        public RootCommand Root { get; }

        public Option<string> Config { get; } = new("--config", "-c")
        {
            HelpName = "FILE",
            Description = $"The config file (TOML). Default: ${ConfigVariable} when set, else {DefaultConfigFile}. Relative paths resolve against the current directory.",
        };

        public Option<bool> Check { get; } = new("--check")
        {
            Description = "Validate the config, print a summary and any warnings, and exit without starting anything.",
        };

        public Option<string> Urls { get; } = new("--urls")
        {
            HelpName = "URLS",
            Description = "ASP.NET Core: the addresses to listen on, ';'-separated (e.g. http://0.0.0.0:8080). Overrides [proxy.listen], as ASPNETCORE_URLS and ASPNETCORE_HTTP_PORTS do.",
        };

        public Option<string> Environment { get; } = new("--environment")
        {
            HelpName = "NAME",
            Description = "ASP.NET Core: the hosting environment (default Production; or ASPNETCORE_ENVIRONMENT).",
        };

        public Option<string>[] HostOptions { get; }

        /// <summary>The library's help (usage, options), then what the options alone cannot say.</summary>
        private sealed class HelpWithMore(HelpAction help) : SynchronousCommandLineAction
        {
            public override bool ClearsParseErrors => true;

            public override int Invoke(ParseResult parseResult)
            {
                var code = help.Invoke(parseResult);
                parseResult.InvocationConfiguration.Output.WriteLine(More);
                return code;
            }
        }

        private const string More = """
                ASP.NET Core configuration:
                  --Section:Key=value     Any ASP.NET Core configuration key is passed to the host, e.g.
                                          --Kestrel:Limits:MaxConcurrentConnections=100 (also as two arguments).

                Environment variables:
                  MCP_PROXY_CONFIG        The config file when --config is not given.
                  ASPNETCORE_URLS, ASPNETCORE_HTTP_PORTS
                                          Override [proxy.listen] (like --urls).

                Exit codes:
                  0  OK (with --check: the config is valid; warnings are printed and do not change the code)
                  1  invalid config (every problem is listed with file, line and key), or a fatal error
                     after it loaded (e.g. the port is taken: one 'mcp-proxy: fatal:' line)
                  2  usage error (unknown option, missing value) or config file not found
                """;
    }
}
