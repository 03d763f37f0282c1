using System.Globalization;

namespace McpProxy.Configuration;

/// <summary>Maps the TOML tree onto <see cref="ProxyConfig"/>, validating as it goes; every problem lands in <see cref="ConfigErrors"/>.</summary>
internal sealed class ConfigReader(ConfigErrors errors)
{
    internal static readonly string[] StdioOnlyKeys = ["command", "args", "env", "inherit_env", "cwd"];
    internal static readonly string[] HttpOnlyKeys = ["url", "bearer_token", "forward_auth"];
    internal static readonly string[] BearerOnlyKeys = ["tokens"];
    internal static readonly string[] JwtOnlyKeys = ["issuer", "audience", "jwks_uri"];
    private static readonly string[] LogLevels = ["trace", "debug", "info", "warn", "error"];
    private static readonly string[] TracingProtocols = ["grpc", "http/protobuf"];

    /// <summary>
    /// Every table of <c>mcp-proxy.toml</c>: its dotted path (arrays of tables without an index), the record it is read
    /// into and so the keys it allows (<see cref="ConfigKeys"/>: the record's properties), which the reader checks. The
    /// JSON Schema (<see cref="ConfigSchema"/>) is generated from these and the records' property types, so <c>--check</c>
    /// and the schema cannot disagree on a key. A new table goes here too.
    /// </summary>
    internal static readonly IReadOnlyList<ConfigTable> Tables =
    [
        new("", typeof(ProxyConfig)),
        new("proxy", typeof(ProxySection)),
        new("proxy.listen", typeof(ListenConfig)),
        new("proxy.names", typeof(NamesConfig)),
        new("proxy.sessions", typeof(SessionsConfig)),
        new("backends", typeof(BackendConfig), IsArray: true, Required: ["name", "transport"]),
        new("backends.timeout", typeof(TimeoutConfig)),
        new("backends.concurrency", typeof(ConcurrencyConfig)),
        new("backends.cache", typeof(CacheConfig)),
        new("backends.circuit_breaker", typeof(CircuitBreakerConfig)),
        new("backends.rate_limit", typeof(RateLimitConfig)),
        new("backends.retry", typeof(RetryConfig)),
        new("backends.hedging", typeof(HedgingConfig)),
        new("backends.outlier_detection", typeof(OutlierDetectionConfig)),
        new("backends.aliases", typeof(AliasConfig), IsArray: true, Required: ["from", "to"]),
        new("backends.inject_args", typeof(InjectArgsConfig), IsArray: true, Required: ["tool"]),
        new("auth", typeof(AuthConfig), Required: ["type"]),
        new("auth.roles", typeof(RoleConfig), IsArray: true, Required: ["name"]),
        new("auth.role_mapping", typeof(RoleMappingConfig)),
        new("performance", typeof(PerformanceConfig)),
        new("security", typeof(SecurityConfig)),
        new("observability", typeof(ObservabilityConfig)),
        new("observability.metrics", typeof(MetricsConfig)),
        new("observability.tracing", typeof(TracingConfig)),
    ];

    /// <summary>String keys that take one of a fixed set of values (enum-typed keys take their enum's names).</summary>
    internal static readonly IReadOnlyDictionary<string, IReadOnlyList<string>> Choices = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal)
    {
        ["observability.log_level"] = LogLevels,
        ["observability.tracing.protocol"] = TracingProtocols,
    };

    /// <summary>Keys allowed only with one transport or auth type: each a subset of its table's keys.</summary>
    internal static readonly IReadOnlyList<IReadOnlyList<string>> ConditionalKeys = [StdioOnlyKeys, HttpOnlyKeys, BearerOnlyKeys, JwtOnlyKeys];

    private const string Percent = "between 0 and 100";

    // Upper bounds: what the libraries that consume the values accept. Polly refuses timeouts, retry and hedging
    // delays and break durations above one day (and timeouts under 10 ms); CancellationTokenSource.CancelAfter and
    // System.Threading.Timer refuse periods above ~24.8 days; TimeSpan.FromSeconds overflows beyond ~29,000 years.
    // One day is the ceiling for every duration, so no value that passes here can throw when a pipeline is built.
    private const double Day = 86_400;
    private const double DayMs = 86_400_000;
    private const string OneDay = "86400 (one day)";
    private const string OneDayMs = "86400000 (one day)";
    private const double Year = 31_536_000; // cache entries and Redis expirations
    private const string OneYear = "31536000 (one year)";
    private const double MaxSize = int.MaxValue; // sizes are measured as int lengths

    public ProxyConfig Read(TomlTableNode rootTable)
    {
        var root = new ConfigSection(errors, rootTable, "", null, ConfigKeys.Of<ProxyConfig>());
        var (proxy, separator) = ReadProxy(root.Section("proxy", ConfigKeys.Of<ProxySection>()));
        var backends = ReadBackends(root, separator);
        if (backends.Count == 0 && errors.Errors.Count == 0)
        {
            // Valid (hot reload may add backends later), but a proxy with nothing behind it serves empty lists.
            errors.Warn("backends", null, root.LineOf("backends"), "no [[backends]] are configured: the proxy will serve empty tool, prompt and resource lists");
        }

        var auth = root.Section("auth", ConfigKeys.Of<AuthConfig>()) is { } a ? ReadAuth(a) : null;
        var config = new ProxyConfig
        {
            Proxy = proxy,
            Backends = backends,
            Auth = auth,
            Performance = ReadPerformance(root.Section("performance", ConfigKeys.Of<PerformanceConfig>())),
            Security = ReadSecurity(root.Section("security", ConfigKeys.Of<SecurityConfig>())),
            Observability = ReadObservability(root.Section("observability", ConfigKeys.Of<ObservabilityConfig>())),
        };
        return config with { ExpandedValues = errors.Expanded.Select(e => e.Expanded).ToHashSet(StringComparer.Ordinal) };
    }

    // ---------------------------------------------------------------- [proxy]

    /// <returns>The section, and the separator to check names against (null when the configured one is invalid).</returns>
    private static (ProxySection Proxy, string? Separator) ReadProxy(ConfigSection? s)
    {
        var d = new ProxySection();
        if (s is null)
        {
            return (d, d.Separator);
        }

        var separator = s.String("separator");
        string? checkSeparator = s.Has("separator") ? null : d.Separator;
        if (separator is { Length: 0 })
        {
            s.Error("separator", "must not be empty");
            separator = null;
        }
        else if (separator is not null)
        {
            checkSeparator = separator;
        }

        var proxy = new ProxySection
        {
            Name = s.String("name") ?? d.Name,
            Version = s.String("version") ?? d.Version,
            Separator = separator ?? d.Separator,
            ShutdownTimeoutSeconds = AtMost(s, "shutdown_timeout_seconds", s.Int("shutdown_timeout_seconds", v => v >= 0, ">= 0"), Day, OneDay) ?? d.ShutdownTimeoutSeconds,
            HotReload = s.Bool("hot_reload") ?? d.HotReload,
            Instructions = s.String("instructions"),
            Listen = ReadListen(s.Section("listen", ConfigKeys.Of<ListenConfig>())),
            Sessions = ReadSessions(s.Section("sessions", ConfigKeys.Of<SessionsConfig>())),
            Names = ReadNames(s.Section("names", ConfigKeys.Of<NamesConfig>())),
        };
        return (proxy, checkSeparator);
    }

    private static NamesConfig ReadNames(ConfigSection? s)
    {
        var d = new NamesConfig();
        if (s is null)
        {
            return d;
        }

        var charsetText = s.String("charset");
        NameCharset? charset = charsetText switch
        {
            null => null,
            "mcp" => NameCharset.Mcp,
            "any" => NameCharset.Any,
            _ => null,
        };
        if (charsetText is not null && charset is null)
        {
            s.Error("charset", $"unknown charset '{charsetText}' (expected \"mcp\" for [A-Za-z0-9_.-], or \"any\")");
        }

        // The lower bound leaves room for a readable stem next to the hash suffix a shortened name gets.
        return new NamesConfig
        {
            MaxLength = s.Int("max_length", v => v is >= NamesConfig.MinLength and <= NamesConfig.MaxMaxLength, $"between {NamesConfig.MinLength} and {NamesConfig.MaxMaxLength}") ?? d.MaxLength,
            Charset = charset ?? d.Charset,
        };
    }

    private static ListenConfig ReadListen(ConfigSection? s)
    {
        var d = new ListenConfig();
        if (s is null)
        {
            return d;
        }

        var host = s.String("host");
        if (host is not null && string.IsNullOrWhiteSpace(host))
        {
            s.Error("host", "must not be empty");
        }

        var path = s.String("path");
        if (path is not null && !path.StartsWith('/'))
        {
            s.Error("path", $"must start with '/' (got '{path}')");
        }

        return new ListenConfig
        {
            Host = host ?? d.Host,
            Port = s.Int("port", v => v is >= 0 and <= 65535, "between 0 and 65535") ?? d.Port,
            Path = path ?? d.Path,
            LegacySse = s.Bool("legacy_sse") ?? d.LegacySse,
        };
    }

    private static SessionsConfig ReadSessions(ConfigSection? s)
    {
        var d = new SessionsConfig();
        if (s is null)
        {
            return d;
        }

        // Upper bounds: what TimeSpan and the SDK's idle tracking accept (a day is plenty for an idle session).
        return new SessionsConfig
        {
            IdleTimeoutSeconds = s.Int("idle_timeout_seconds", v => v is >= 1 and <= 86_400, "between 1 and 86400") ?? d.IdleTimeoutSeconds,
            MaxSessions = s.Int("max_sessions", v => v is >= 1 and <= 1_000_000, "between 1 and 1000000") ?? d.MaxSessions,
            MaxSessionsPerCaller = s.Int("max_sessions_per_caller", v => v is >= 1 and <= 1_000_000, "between 1 and 1000000") ?? d.MaxSessionsPerCaller,
        };
    }

    // ---------------------------------------------------------------- [[backends]]

    private List<BackendConfig> ReadBackends(ConfigSection root, string? separator)
    {
        var sections = root.Sections("backends", ConfigKeys.Of<BackendConfig>(), BackendLabel, indexKeys: false);
        var result = new List<BackendConfig>();
        var names = new Dictionary<string, int>(StringComparer.Ordinal);
        var mirrors = new List<(ConfigSection Section, string Name, string MirrorOf)>();
        string? passthrough = null;
        foreach (var s in sections)
        {
            if (ReadBackend(s, separator, names) is { } backend)
            {
                result.Add(backend);
                if (!backend.Namespaced)
                {
                    if (passthrough is not null)
                    {
                        s.Error("namespaced", $"only one backend may set namespaced = false (already '{passthrough}')");
                    }
                    else if (backend.MirrorOf is not null)
                    {
                        s.Error("namespaced", "a mirror is never routed to, so namespaced = false has no meaning on it");
                    }

                    passthrough ??= backend.Name;
                }

                if (backend.MirrorOf is not null)
                {
                    mirrors.Add((s, backend.Name, backend.MirrorOf));
                }
            }
        }

        foreach (var (s, name, mirrorOf) in mirrors)
        {
            if (string.Equals(mirrorOf, name, StringComparison.Ordinal))
            {
                s.Error("mirror_of", $"a backend cannot mirror itself ('{name}')");
            }
            else if (!names.ContainsKey(mirrorOf))
            {
                s.Error("mirror_of", $"unknown backend '{mirrorOf}' (mirror_of must name another [[backends]] entry)");
            }
        }

        return result;
    }

    /// <summary>The backend's name for error messages, or <c>#N</c> (1-based) when it has none.</summary>
    private string BackendLabel(int index, TomlNode node)
    {
        if (node is TomlTableNode table && table.Entries.TryGetValue("name", out var nameNode)
            && nameNode is TomlScalar { Value: string raw, IsDateTime: false })
        {
            var name = EnvExpander.Expand(raw, errors.GetEnv, new List<string>(), out var resolved);
            if (!string.IsNullOrWhiteSpace(name))
            {
                return resolved ? raw : name; // diagnostics never show an expanded value
            }
        }

        return "#" + (index + 1);
    }

    private BackendConfig? ReadBackend(ConfigSection s, string? separator, Dictionary<string, int> names)
    {
        if (s.Table.Entries.Count == 0)
        {
            s.TableError("empty [[backends]] entry: 'name' and 'transport' are required");
            return null;
        }

        var expandedBefore = errors.Expanded.Count;

        // name
        var name = s.String("name");
        if (!s.Has("name"))
        {
            s.Missing("name");
        }
        else if (name is not null)
        {
            if (string.IsNullOrWhiteSpace(name))
            {
                s.Error("name", "must not be empty");
            }
            else if (separator is not null && name.Contains(separator, StringComparison.Ordinal))
            {
                s.Error("name", $"must not contain the separator '{separator}' (got '{name}')");
            }
            else if (names.TryGetValue(name, out var firstLine))
            {
                s.Error("name", $"duplicate backend name '{name}' (first defined on line {firstLine})");
            }
            else
            {
                names[name] = s.LineOf("name");
            }
        }

        // transport
        BackendTransport? transport = null;
        var transportText = s.String("transport");
        if (!s.Has("transport"))
        {
            s.Missing("transport", "(\"stdio\" or \"http\")");
        }
        else if (transportText is not null)
        {
            transport = transportText.ToLowerInvariant() switch
            {
                "stdio" => BackendTransport.Stdio,
                "http" => BackendTransport.Http,
                _ => null,
            };
            if (transport is null)
            {
                s.Error("transport", $"unknown transport '{transportText}' (expected \"stdio\" or \"http\")");
            }
        }

        var command = s.String("command");
        var args = s.StringList("args");
        var env = s.StringMap("env");
        var cwd = s.String("cwd");
        var inheritEnv = s.Bool("inherit_env");
        var url = s.String("url");
        var bearerToken = s.String("bearer_token");
        var forwardAuth = s.Bool("forward_auth");

        if (transport == BackendTransport.Stdio)
        {
            if (!s.Has("command"))
            {
                s.Missing("command", "for a stdio backend");
            }
            else if (command is not null && string.IsNullOrWhiteSpace(command))
            {
                s.Error("command", "must not be empty");
            }
            else if (command is not null && !CommandLocator.Exists(command, errors.GetEnv("PATH"), WorkingDirectoryFor(cwd)))
            {
                s.Warn("command", $"'{command}' was not found on PATH (nor as a file); the backend will be unavailable until it is installed");
            }

            foreach (var key in HttpOnlyKeys.Where(s.Has))
            {
                s.Error(key, $"'{key}' is only valid for http backends (this backend's transport is \"stdio\")");
            }
        }
        else if (transport == BackendTransport.Http)
        {
            if (!s.Has("url"))
            {
                s.Missing("url", "for an http backend");
            }
            else if (url is not null && !IsHttpUri(url))
            {
                s.Error("url", $"must be an absolute http or https URL (got '{url}')");
            }

            foreach (var key in StdioOnlyKeys.Where(s.Has))
            {
                s.Error(key, $"'{key}' is only valid for stdio backends (this backend's transport is \"http\")");
            }
        }

        // capability filters
        var exposeTools = s.StringList("expose_tools");
        var hideTools = s.StringList("hide_tools");
        var exposeResources = s.StringList("expose_resources");
        var hideResources = s.StringList("hide_resources");
        var exposePrompts = s.StringList("expose_prompts");
        var hidePrompts = s.StringList("hide_prompts");
        foreach (var kind in new[] { "tools", "resources", "prompts" })
        {
            if (s.Has("expose_" + kind) && s.Has("hide_" + kind))
            {
                s.Error("hide_" + kind, $"expose_{kind} and hide_{kind} are mutually exclusive (use one or the other)");
            }
        }

        var mirrorOf = s.String("mirror_of");
        if (mirrorOf is not null && string.IsNullOrWhiteSpace(mirrorOf))
        {
            s.Error("mirror_of", "must not be empty");
            mirrorOf = null;
        }

        var d = new BackendConfig { Name = "" };
        return new BackendConfig
        {
            Name = name ?? "",
            SourceLine = s.Line,
            Transport = transport ?? BackendTransport.Stdio,
            Command = command,
            Args = args ?? [],
            Env = env ?? [],
            Cwd = cwd,
            InheritEnv = inheritEnv ?? false,
            Url = url,
            BearerToken = string.IsNullOrEmpty(bearerToken) ? null : bearerToken,
            ForwardAuth = forwardAuth ?? false,
            Timeout = ReadTimeout(s.Section("timeout", ConfigKeys.Of<TimeoutConfig>())),
            Concurrency = ReadConcurrency(s.Section("concurrency", ConfigKeys.Of<ConcurrencyConfig>())),
            Cache = ReadCache(s.Section("cache", ConfigKeys.Of<CacheConfig>())),
            CircuitBreaker = ReadCircuitBreaker(s.Section("circuit_breaker", ConfigKeys.Of<CircuitBreakerConfig>())),
            RateLimit = ReadRateLimit(s.Section("rate_limit", ConfigKeys.Of<RateLimitConfig>())),
            Retry = ReadRetry(s.Section("retry", ConfigKeys.Of<RetryConfig>())),
            Hedging = ReadHedging(s.Section("hedging", ConfigKeys.Of<HedgingConfig>())),
            OutlierDetection = ReadOutlier(s.Section("outlier_detection", ConfigKeys.Of<OutlierDetectionConfig>())),
            Aliases = ReadAliases(s, separator),
            ExposeTools = exposeTools,
            HideTools = hideTools,
            ExposeResources = exposeResources,
            HideResources = hideResources,
            ExposePrompts = exposePrompts,
            HidePrompts = hidePrompts,
            DefaultArgs = s.Json("default_args"),
            InjectArgs = ReadInjectArgs(s),
            MirrorOf = mirrorOf,
            MirrorPercent = s.Number("mirror_percent", v => v is >= 0 and <= 100, Percent) ?? d.MirrorPercent,
            Namespaced = s.Bool("namespaced") ?? true,
            IdempotentTools = s.StringList("idempotent_tools"),
            NonIdempotentTools = s.StringList("non_idempotent_tools"),
            ExpandedValues = errors.Expanded.Skip(expandedBefore).Select(e => e.Expanded).ToHashSet(StringComparer.Ordinal),
        };
    }

    private static TimeoutConfig? ReadTimeout(ConfigSection? s) => s is null ? null : new TimeoutConfig
    {
        Seconds = Within(s, "seconds", s.Number("seconds", v => v > 0, "> 0"), 0.01, "0.01 (10 ms, Polly's smallest timeout)", Day, OneDay) ?? new TimeoutConfig().Seconds,
    };

    private static ConcurrencyConfig? ReadConcurrency(ConfigSection? s) => s is null ? null : new ConcurrencyConfig
    {
        MaxConcurrent = s.Int("max_concurrent", v => v >= 1, ">= 1") ?? new ConcurrencyConfig().MaxConcurrent,
        MaxQueued = AtMost(s, "max_queued", s.Int("max_queued", v => v >= 0, ">= 0"), 1_000_000, "1000000") ?? new ConcurrencyConfig().MaxQueued,
    };

    private static CacheConfig? ReadCache(ConfigSection? s)
    {
        if (s is null)
        {
            return null;
        }

        var d = new CacheConfig();
        return new CacheConfig
        {
            ResourceTtlSeconds = AtMost(s, "resource_ttl_seconds", s.Int("resource_ttl_seconds", v => v >= 0, ">= 0"), Year, OneYear) ?? d.ResourceTtlSeconds,
            ToolTtlSeconds = AtMost(s, "tool_ttl_seconds", s.Int("tool_ttl_seconds", v => v >= 0, ">= 0"), Year, OneYear) ?? d.ToolTtlSeconds,
            MaxEntries = s.Int("max_entries", v => v >= 1, ">= 1") ?? d.MaxEntries,
            CacheTools = s.StringList("cache_tools") ?? d.CacheTools,
        };
    }

    private static CircuitBreakerConfig? ReadCircuitBreaker(ConfigSection? s)
    {
        if (s is null)
        {
            return null;
        }

        var d = new CircuitBreakerConfig();
        return new CircuitBreakerConfig
        {
            FailureRateThreshold = s.Number("failure_rate_threshold", v => v is > 0 and <= 1, "> 0 and <= 1") ?? d.FailureRateThreshold,
            MinimumCalls = s.Int("minimum_calls", v => v >= 1, ">= 1") ?? d.MinimumCalls,
            WaitDurationSeconds = Within(s, "wait_duration_seconds", s.Number("wait_duration_seconds", v => v >= 0, ">= 0"), 0, "0", Day, OneDay) ?? d.WaitDurationSeconds,
            PermittedCallsInHalfOpen = s.Int("permitted_calls_in_half_open", v => v >= 1, ">= 1") ?? d.PermittedCallsInHalfOpen,
            WindowSeconds = Within(s, "window_seconds", s.Number("window_seconds", v => v > 0, "> 0"), 0.001, "0.001 (1 ms)", Day, OneDay) ?? d.WindowSeconds,
        };
    }

    private static RateLimitConfig? ReadRateLimit(ConfigSection? s)
    {
        if (s is null)
        {
            return null;
        }

        var d = new RateLimitConfig();
        return new RateLimitConfig
        {
            Requests = s.Int("requests", v => v >= 1, ">= 1") ?? d.Requests,
            PeriodSeconds = Within(s, "period_seconds", s.Number("period_seconds", v => v > 0, "> 0"), 0.001, "0.001 (1 ms)", Day, OneDay) ?? d.PeriodSeconds,
        };
    }

    private static RetryConfig? ReadRetry(ConfigSection? s)
    {
        if (s is null)
        {
            return null;
        }

        var d = new RetryConfig();
        var initial = AtMost(s, "initial_backoff_ms", s.Int("initial_backoff_ms", v => v >= 0, ">= 0"), DayMs, OneDayMs);
        var max = AtMost(s, "max_backoff_ms", s.Int("max_backoff_ms", v => v >= 0, ">= 0"), DayMs, OneDayMs);
        var retry = new RetryConfig
        {
            MaxRetries = AtMost(s, "max_retries", s.Int("max_retries", v => v >= 0, ">= 0"), 100, "100") ?? d.MaxRetries,
            InitialBackoffMs = initial ?? d.InitialBackoffMs,
            MaxBackoffMs = max ?? d.MaxBackoffMs,
            BudgetPercent = s.Number("budget_percent", v => v is >= 0 and <= 100, Percent) ?? d.BudgetPercent,
            MinRetriesPerSec = AtMost(s, "min_retries_per_sec", s.Int("min_retries_per_sec", v => v >= 0, ">= 0"), 1_000_000, "1000000") ?? d.MinRetriesPerSec,
        };

        // Only when both values are valid (given or defaulted), so a bad value is not reported twice.
        var initialOk = initial is not null || !s.Has("initial_backoff_ms");
        var maxOk = max is not null || !s.Has("max_backoff_ms");
        if (initialOk && maxOk && retry.MaxBackoffMs < retry.InitialBackoffMs)
        {
            var key = s.Has("max_backoff_ms") ? "max_backoff_ms" : "initial_backoff_ms";
            s.Error(key, $"max_backoff_ms ({retry.MaxBackoffMs}) must be >= initial_backoff_ms ({retry.InitialBackoffMs})");
        }

        return retry;
    }

    private static HedgingConfig? ReadHedging(ConfigSection? s)
    {
        if (s is null)
        {
            return null;
        }

        var d = new HedgingConfig();
        return new HedgingConfig
        {
            DelayMs = AtMost(s, "delay_ms", s.Int("delay_ms", v => v >= 0, ">= 0"), DayMs, OneDayMs) ?? d.DelayMs,
            MaxHedges = AtMost(s, "max_hedges", s.Int("max_hedges", v => v >= 1, ">= 1"), 10, "10 (Polly's hedging limit)") ?? d.MaxHedges,
        };
    }

    private static OutlierDetectionConfig? ReadOutlier(ConfigSection? s)
    {
        if (s is null)
        {
            return null;
        }

        var d = new OutlierDetectionConfig();
        return new OutlierDetectionConfig
        {
            ConsecutiveErrors = s.Int("consecutive_errors", v => v >= 1, ">= 1") ?? d.ConsecutiveErrors,
            IntervalSeconds = Within(s, "interval_seconds", s.Number("interval_seconds", v => v > 0, "> 0"), 0.001, "0.001 (1 ms)", Day, OneDay) ?? d.IntervalSeconds,
            BaseEjectionSeconds = Within(s, "base_ejection_seconds", s.Number("base_ejection_seconds", v => v > 0, "> 0"), 0.001, "0.001 (1 ms)", Day, OneDay) ?? d.BaseEjectionSeconds,
            MaxEjectionPercent = s.Number("max_ejection_percent", v => v is >= 0 and <= 100, Percent) ?? d.MaxEjectionPercent,
        };
    }

    private static List<AliasConfig> ReadAliases(ConfigSection backend, string? separator)
    {
        var result = new List<AliasConfig>();
        var froms = new Dictionary<string, int>(StringComparer.Ordinal);
        var tos = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var s in backend.Sections("aliases", ConfigKeys.Of<AliasConfig>()))
        {
            var from = s.String("from");
            var to = s.String("to");
            var ok = from is not null && to is not null;
            if (!s.Has("from"))
            {
                s.Missing("from");
            }
            else if (from is not null && string.IsNullOrWhiteSpace(from))
            {
                s.Error("from", "must not be empty");
                ok = false;
            }
            else if (from is not null && froms.TryGetValue(from, out var firstFrom))
            {
                s.Error("from", $"tool '{from}' is already aliased on line {firstFrom}");
                ok = false;
            }
            else if (from is not null)
            {
                froms[from] = s.LineOf("from");
            }

            if (!s.Has("to"))
            {
                s.Missing("to");
            }
            else if (to is not null && string.IsNullOrWhiteSpace(to))
            {
                s.Error("to", "must not be empty");
                ok = false;
            }
            else if (to is not null && separator is not null && to.Contains(separator, StringComparison.Ordinal))
            {
                s.Error("to", $"must not contain the separator '{separator}' (got '{to}')");
                ok = false;
            }
            else if (to is not null && tos.TryGetValue(to, out var firstTo))
            {
                s.Error("to", $"duplicate alias '{to}' (also used on line {firstTo})");
                ok = false;
            }
            else if (to is not null)
            {
                tos[to] = s.LineOf("to");
            }

            if (ok)
            {
                result.Add(new AliasConfig(from!, to!));
            }
        }

        return result;
    }

    private static List<InjectArgsConfig> ReadInjectArgs(ConfigSection backend)
    {
        var result = new List<InjectArgsConfig>();
        foreach (var s in backend.Sections("inject_args", ConfigKeys.Of<InjectArgsConfig>()))
        {
            var tool = s.String("tool");
            if (!s.Has("tool"))
            {
                s.Missing("tool");
            }
            else if (tool is not null && string.IsNullOrWhiteSpace(tool))
            {
                s.Error("tool", "must not be empty");
            }

            var args = s.Json("args");
            var overwrite = s.Bool("overwrite");
            result.Add(new InjectArgsConfig { Tool = tool ?? "", Args = args ?? [], Overwrite = overwrite ?? false });
        }

        return result;
    }

    // ---------------------------------------------------------------- [auth]

    private static AuthConfig ReadAuth(ConfigSection s)
    {
        AuthType? type = null;
        var typeText = s.String("type");
        if (!s.Has("type"))
        {
            s.Missing("type", "(\"bearer\" or \"jwt\")");
        }
        else if (typeText is not null)
        {
            type = typeText.ToLowerInvariant() switch
            {
                "bearer" => AuthType.Bearer,
                "jwt" => AuthType.Jwt,
                _ => null,
            };
            if (type is null)
            {
                s.Error("type", $"unknown auth type '{typeText}' (expected \"bearer\" or \"jwt\")");
            }
        }

        var tokens = s.StringList("tokens");
        var issuer = s.String("issuer");
        var audience = s.String("audience");
        var jwksUri = s.String("jwks_uri");

        // Keys of the other auth type would be silently ignored: an error, so a half-converted [auth] is noticed.
        foreach (var key in (type == AuthType.Bearer ? JwtOnlyKeys : type == AuthType.Jwt ? BearerOnlyKeys : []).Where(s.Has))
        {
            s.Error(key, $"'{key}' is only used by {(type == AuthType.Bearer ? "jwt" : "bearer")} auth (this [auth] has type = \"{typeText}\"); remove it");
        }

        if (type == AuthType.Bearer)
        {
            if (!s.Has("tokens"))
            {
                s.Missing("tokens", "for bearer auth");
            }
            else if (tokens is { Count: 0 })
            {
                s.Error("tokens", "must list at least one token for bearer auth");
            }
            else if (tokens is not null && tokens.Any(string.IsNullOrWhiteSpace))
            {
                s.Error("tokens", "tokens must not be empty");
            }
        }
        else if (type == AuthType.Jwt)
        {
            foreach (var (key, value) in new[] { ("issuer", issuer), ("audience", audience), ("jwks_uri", jwksUri) })
            {
                if (!s.Has(key))
                {
                    s.Missing(key, "for jwt auth");
                }
                else if (value is not null && string.IsNullOrWhiteSpace(value))
                {
                    s.Error(key, "must not be empty");
                }
            }

            if (!string.IsNullOrWhiteSpace(jwksUri) && !IsHttpUri(jwksUri))
            {
                s.Error("jwks_uri", $"must be an absolute http or https URI (got '{jwksUri}')");
            }
            else if (!string.IsNullOrWhiteSpace(jwksUri) && new Uri(jwksUri) is { Scheme: "http", IsLoopback: false })
            {
                // The signing keys decide who gets in: fetched over plain HTTP they could be swapped on the way (the
                // JWKS retriever refuses http for non-loopback hosts at runtime too).
                s.Error("jwks_uri", $"must use https (got '{jwksUri}'); plain http is allowed for loopback hosts only");
            }
        }

        var roles = ReadRoles(s);
        string DefinedRoles() =>
            roles.Count == 0 ? "no roles are defined in [[auth.roles]]" : "defined roles: " + string.Join(", ", roles.Select(r => r.Name).Order(StringComparer.Ordinal));
        var defaultRole = s.String("default_role");
        if (defaultRole is not null && !roles.Any(r => r.Name == defaultRole))
        {
            s.Error("default_role", $"unknown role '{defaultRole}' ({DefinedRoles()})");
        }

        var adminRoles = s.StringList("admin_roles");
        foreach (var role in adminRoles ?? [])
        {
            if (!roles.Any(r => r.Name == role))
            {
                s.Error("admin_roles", $"unknown role '{role}' ({DefinedRoles()})");
            }
        }

        var tokenTypes = s.StringList("token_types");
        if (tokenTypes is not null && type == AuthType.Bearer)
        {
            s.Error("token_types", "applies to jwt auth only (static bearer tokens have no type)");
        }
        else if (tokenTypes is { Count: 0 })
        {
            s.Error("token_types", "must list at least one token type (e.g. \"at+jwt\")");
        }
        else if (tokenTypes?.FirstOrDefault(t => string.IsNullOrWhiteSpace(t) || t.Any(char.IsWhiteSpace)) is { } badType)
        {
            s.Error("token_types", $"'{badType}' is not a token type (a media type name such as \"at+jwt\" or \"JWT\")");
        }

        return new AuthConfig
        {
            DefaultRole = defaultRole,
            AdminRoles = adminRoles ?? [],
            TokenTypes = tokenTypes is { Count: > 0 } ? tokenTypes : AuthConfig.DefaultTokenTypes,
            Type = type ?? AuthType.Bearer,
            Tokens = tokens ?? [],
            Issuer = issuer,
            Audience = audience,
            JwksUri = jwksUri,
            Roles = roles,
            RoleMapping = ReadRoleMapping(s.Section("role_mapping", ConfigKeys.Of<RoleMappingConfig>()), roles),
        };
    }

    private static List<RoleConfig> ReadRoles(ConfigSection auth)
    {
        var result = new List<RoleConfig>();
        var names = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var s in auth.Sections("roles", ConfigKeys.Of<RoleConfig>()))
        {
            var name = s.String("name");
            if (!s.Has("name"))
            {
                s.Missing("name");
            }
            else if (name is not null && string.IsNullOrWhiteSpace(name))
            {
                s.Error("name", "must not be empty");
            }
            else if (name is not null && names.TryGetValue(name, out var firstLine))
            {
                s.Error("name", $"duplicate role '{name}' (first defined on line {firstLine})");
            }
            else if (name is not null)
            {
                names[name] = s.LineOf("name");
            }

            result.Add(new RoleConfig
            {
                Name = name ?? "",
                AllowTools = s.StringList("allow_tools") ?? [],
                DenyTools = s.StringList("deny_tools") ?? [],
                AllowPrompts = s.StringList("allow_prompts") ?? [],
                DenyPrompts = s.StringList("deny_prompts") ?? [],
                AllowResources = s.StringList("allow_resources") ?? [],
                DenyResources = s.StringList("deny_resources") ?? [],
            });
        }

        return result;
    }

    private static RoleMappingConfig? ReadRoleMapping(ConfigSection? s, List<RoleConfig> roles)
    {
        if (s is null)
        {
            return null;
        }

        var d = new RoleMappingConfig();
        var claim = s.String("claim");
        if (claim is not null && string.IsNullOrWhiteSpace(claim))
        {
            s.Error("claim", "must not be empty");
        }

        var mapping = s.StringMap("mapping");
        if (mapping is not null && s.Table.Entries["mapping"] is TomlTableNode mappingTable)
        {
            var roleNames = roles.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
            foreach (var (value, role) in mapping)
            {
                if (!roleNames.Contains(role))
                {
                    var defined = roleNames.Count == 0 ? "no roles are defined in [[auth.roles]]" : "defined roles: " + string.Join(", ", roleNames.Order(StringComparer.Ordinal));
                    s.ErrorAt($"mapping.{value}", mappingTable.Entries[value].Line, $"unknown role '{role}' ({defined})");
                }
            }
        }

        return new RoleMappingConfig
        {
            Claim = claim ?? d.Claim,
            Mapping = mapping ?? d.Mapping,
        };
    }

    // ---------------------------------------------------------------- [performance], [security], [observability]

    private static PerformanceConfig ReadPerformance(ConfigSection? s) =>
        s is null ? new PerformanceConfig() : new PerformanceConfig { CoalesceRequests = s.Bool("coalesce_requests") ?? false };

    private static SecurityConfig ReadSecurity(ConfigSection? s)
    {
        var d = new SecurityConfig();
        if (s is null)
        {
            return d;
        }

        var adminToken = s.String("admin_token");
        if (adminToken is not null && adminToken.Trim().Length < 16)
        {
            s.Error("admin_token", "must be at least 16 characters (it guards the admin API)");
        }

        var origins = s.StringList("allowed_origins");
        foreach (var origin in origins ?? [])
        {
            if (origin != "*" && !(Uri.TryCreate(origin, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.AbsolutePath == "/"))
            {
                s.Error("allowed_origins", $"'{origin}' is not an origin (scheme://host[:port], or \"*\")");
            }
        }

        var hosts = s.StringList("allowed_hosts");
        foreach (var host in hosts ?? [])
        {
            // Compared with the Host header's name, without its port: "localhost", "127.0.0.1", "[::1]", "mcp.example.com".
            if (host != "*" && Uri.CheckHostName(host.Trim('[', ']')) == UriHostNameType.Unknown)
            {
                s.Error("allowed_hosts", $"'{host}' is not a host name (a name or IP address without scheme, port or path, or \"*\")");
            }
        }

        return new SecurityConfig
        {
            MaxArgumentSize = AtMost(s, "max_argument_size", s.Long("max_argument_size", v => v >= 1, ">= 1"), MaxSize, "2147483647") ?? d.MaxArgumentSize,
            MaxRequestBody = AtMost(s, "max_request_body", s.Long("max_request_body", v => v >= 1024, ">= 1024"), MaxSize, "2147483647"),
            // At most 1 GiB: one message is held in memory (a byte array) while it is read.
            MaxResultSize = s.Long("max_result_size", v => v is >= 1024 and <= 1L << 30, "between 1024 and 1073741824") ?? d.MaxResultSize,
            AllowedOrigins = origins ?? d.AllowedOrigins,
            AllowedHosts = hosts,
            AdminToken = string.IsNullOrEmpty(adminToken) ? null : adminToken,
            AdminAllowForwarded = s.Bool("admin_allow_forwarded") ?? d.AdminAllowForwarded,
        };
    }

    private static ObservabilityConfig ReadObservability(ConfigSection? s)
    {
        var d = new ObservabilityConfig();
        if (s is null)
        {
            return d;
        }

        var logLevel = s.String("log_level")?.ToLowerInvariant();
        if (logLevel is not null && !LogLevels.Contains(logLevel))
        {
            s.Error("log_level", $"unknown log level '{logLevel}' (expected one of {string.Join(", ", LogLevels)})");
            logLevel = null;
        }

        var metrics = s.Section("metrics", ConfigKeys.Of<MetricsConfig>());
        return new ObservabilityConfig
        {
            Audit = s.Bool("audit") ?? d.Audit,
            LogLevel = logLevel ?? d.LogLevel,
            JsonLogs = s.Bool("json_logs") ?? d.JsonLogs,
            AuditArguments = s.Bool("audit_arguments") ?? d.AuditArguments,
            HealthMinReadyPercent = s.Number("health_min_ready_percent", v => v is >= 0 and <= 100, Percent) ?? d.HealthMinReadyPercent,
            Metrics = new MetricsConfig { Enabled = metrics?.Bool("enabled") ?? d.Metrics.Enabled },
            Tracing = ReadTracing(s.Section("tracing", ConfigKeys.Of<TracingConfig>())),
        };
    }

    private static TracingConfig ReadTracing(ConfigSection? s)
    {
        var d = new TracingConfig();
        if (s is null)
        {
            return d;
        }

        var endpoint = s.String("endpoint");
        if (endpoint is not null && !IsHttpUri(endpoint))
        {
            s.Error("endpoint", $"must be an absolute http or https URL (got '{endpoint}')");
        }

        var serviceName = s.String("service_name");
        if (serviceName is not null && string.IsNullOrWhiteSpace(serviceName))
        {
            s.Error("service_name", "must not be empty");
        }

        var protocol = s.String("protocol");
        if (protocol is not null && !TracingProtocols.Contains(protocol))
        {
            s.Error("protocol", $"unknown OTLP protocol '{protocol}' (expected \"grpc\" or \"http/protobuf\")");
            protocol = null;
        }

        return new TracingConfig
        {
            Enabled = s.Bool("enabled") ?? d.Enabled,
            Endpoint = endpoint ?? d.Endpoint,
            ServiceName = serviceName ?? d.ServiceName,
            Protocol = protocol ?? d.Protocol,
        };
    }

    /// <summary>The directory a stdio child starts in (for a relative <c>command</c>); null when the config has no file.</summary>
    private string? WorkingDirectoryFor(string? cwd) =>
        errors.BaseDirectory is not { } dir ? null : string.IsNullOrWhiteSpace(cwd) ? dir : Path.GetFullPath(cwd, dir);

    /// <summary>The upper bound of a value that passed its own rule: null (after reporting) above <paramref name="max"/>.</summary>
    private static int? AtMost(ConfigSection s, string key, int? value, double max, string maxText) =>
        value is { } v && v > max ? Refuse<int>(s, key, v, $"must be <= {maxText} (got {v.ToString(CultureInfo.InvariantCulture)})") : value;

    private static long? AtMost(ConfigSection s, string key, long? value, double max, string maxText) =>
        value is { } v && v > max ? Refuse<long>(s, key, v, $"must be <= {maxText} (got {v.ToString(CultureInfo.InvariantCulture)})") : value;

    /// <summary>Both bounds of a number that passed its own rule; null (after reporting) outside them.</summary>
    private static double? Within(ConfigSection s, string key, double? value, double min, string minText, double max, string maxText) => value switch
    {
        { } v when v < min => Refuse<double>(s, key, v, $"must be >= {minText} (got {v.ToString("R", CultureInfo.InvariantCulture)})"),
        { } v when v > max => Refuse<double>(s, key, v, $"must be <= {maxText} (got {v.ToString("R", CultureInfo.InvariantCulture)})"),
        _ => value,
    };

    private static T? Refuse<T>(ConfigSection s, string key, T value, string message)
        where T : struct
    {
        _ = value;
        s.Error(key, message);
        return null;
    }

    private static bool IsHttpUri(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri)
        && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
        && !string.IsNullOrEmpty(uri.Host);
}
