using System.Globalization;
using McpProxy.Configuration.Validation;

namespace McpProxy.Configuration;

/// <summary>
/// Maps the TOML tree onto <see cref="ProxyConfig"/>: keys, types and each value's own range are checked while reading;
/// the rules across keys and tables are the validators' (<see cref="Validation.ConfigValidator"/>), run once the records
/// are built. Every problem lands in <see cref="ConfigErrors"/> with its file, line, key and backend.
/// </summary>
internal sealed class ConfigReader(ConfigErrors errors)
{
    internal static readonly string[] StdioOnlyKeys = ["command", "args", "env", "inherit_env", "cwd"];
    internal static readonly string[] HttpOnlyKeys = ["url", "bearer_token", "forward_auth", "fast_path"];
    internal static readonly string[] BearerOnlyKeys = ["tokens"];
    internal static readonly string[] JwtOnlyKeys = ["issuer", "audience", "jwks_uri"];
    internal static readonly string[] LogLevels = ["trace", "debug", "info", "warn", "error"];
    internal static readonly string[] TracingProtocols = ["grpc", "http/protobuf"];

    /// <summary><c>[[backends]] protocol</c>: probe, or one pinned era (the modern revision, the newest legacy one).</summary>
    internal static readonly string[] BackendProtocols = ["auto", "2026-07-28", "2025-11-25"];

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
        new("proxy.mrtr", typeof(MrtrConfig)),
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
        ["backends.protocol"] = BackendProtocols,
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
        var proxy = ReadProxy(root.Section("proxy", ConfigKeys.Of<ProxySection>()));
        var backends = ReadBackends(root);
        var auth = root.Section("auth", ConfigKeys.Of<AuthConfig>()) is { } a ? ReadAuth(a) : null;
        var config = errors.Track(new ProxyConfig
        {
            Proxy = proxy,
            Backends = backends,
            Auth = auth,
            Performance = ReadPerformance(root.Section("performance", ConfigKeys.Of<PerformanceConfig>())),
            Security = ReadSecurity(root.Section("security", ConfigKeys.Of<SecurityConfig>())),
            Observability = ReadObservability(root.Section("observability", ConfigKeys.Of<ObservabilityConfig>())),
        }, root);

        // Mapped: now the rules across keys and tables (each area's validator), against the same file, lines and keys.
        ConfigValidator.Validate(config, errors);
        return config with { ExpandedValues = errors.Expanded.Select(e => e.Expanded).ToHashSet(StringComparer.Ordinal) };
    }

    // ---------------------------------------------------------------- [proxy]

private ProxySection ReadProxy(ConfigSection? s)
    {
        var d = new ProxySection();
        if (s is null)
        {
            return d;
        }

        return errors.Track(new ProxySection
        {
            Name = s.String("name") ?? d.Name,
            Version = s.String("version") ?? d.Version,
            Separator = s.String("separator") ?? d.Separator,
            ShutdownTimeoutSeconds = AtMost(s, "shutdown_timeout_seconds", s.Int("shutdown_timeout_seconds", v => v >= 0, ">= 0"), Day, OneDay) ?? d.ShutdownTimeoutSeconds,
            HotReload = s.Bool("hot_reload") ?? d.HotReload,
            Instructions = s.String("instructions"),
            Listen = ReadListen(s.Section("listen", ConfigKeys.Of<ListenConfig>())),
            Sessions = ReadSessions(s.Section("sessions", ConfigKeys.Of<SessionsConfig>())),
            Names = ReadNames(s.Section("names", ConfigKeys.Of<NamesConfig>())),
            Mrtr = ReadMrtr(s.Section("mrtr", ConfigKeys.Of<MrtrConfig>())),
        }, s);
    }

    private static MrtrConfig ReadMrtr(ConfigSection? s)
    {
        var d = new MrtrConfig();
        if (s is null)
        {
            return d;
        }

        // Empty entries (an unset "${PREVIOUS_KEY:-}") are dropped; each key must be 32 bytes of base64.
        var keys = s.StringList("state_keys")?.Where(k => k.Length > 0).ToList();
        foreach (var key in keys ?? [])
        {
            var bytes = new byte[64];
            if (!Convert.TryFromBase64String(key, bytes, out var length) || length != 32)
            {
                s.Error("state_keys", "each key must be 32 random bytes in base64 (e.g. `openssl rand -base64 32`)");
                break;
            }
        }

        return new MrtrConfig
        {
            StateKeys = keys ?? d.StateKeys,
            StateTtlSeconds = s.Int("state_ttl_seconds", v => v is >= 1 and <= 86_400, "between 1 and 86400") ?? d.StateTtlSeconds,
        };
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

private ListenConfig ReadListen(ConfigSection? s)
    {
        var d = new ListenConfig();
        if (s is null)
        {
            return d;
        }

        return errors.Track(new ListenConfig
        {
            Host = s.String("host") ?? d.Host,
            Port = s.Int("port", v => v is >= 0 and <= 65535, "between 0 and 65535") ?? d.Port,
            Path = s.String("path") ?? d.Path,
            LegacySse = s.Bool("legacy_sse") ?? d.LegacySse,
        }, s);
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

private List<BackendConfig> ReadBackends(ConfigSection root)
    {
        var result = new List<BackendConfig>();
        foreach (var s in root.Sections("backends", ConfigKeys.Of<BackendConfig>(), BackendLabel, indexKeys: false))
        {
            if (ReadBackend(s) is { } backend)
            {
                result.Add(backend);
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

    private BackendConfig? ReadBackend(ConfigSection s)
    {
        if (s.Table.Entries.Count == 0)
        {
            s.TableError("empty [[backends]] entry: 'name' and 'transport' are required");
            return null;
        }

        var expandedBefore = errors.Expanded.Count;
        var name = s.String("name");
        if (!s.Has("name"))
        {
            s.Missing("name");
        }

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
        var exposeTools = s.StringList("expose_tools");
        var hideTools = s.StringList("hide_tools");
        var exposeResources = s.StringList("expose_resources");
        var hideResources = s.StringList("hide_resources");
        var exposePrompts = s.StringList("expose_prompts");
        var hidePrompts = s.StringList("hide_prompts");
        var mirrorOf = s.String("mirror_of");

        var d = new BackendConfig { Name = "" };
        return errors.Track(new BackendConfig
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
            Aliases = ReadAliases(s),
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
            FastPath = s.Bool("fast_path") ?? d.FastPath,
            Protocol = s.String("protocol")?.ToLowerInvariant() ?? d.Protocol,
            DiscoverTimeoutMs = AtMost(s, "discover_timeout_ms", s.Int("discover_timeout_ms", v => v >= 1, ">= 1"), DayMs, OneDayMs) ?? d.DiscoverTimeoutMs,
            IdempotentTools = s.StringList("idempotent_tools"),
            NonIdempotentTools = s.StringList("non_idempotent_tools"),
            ExpandedValues = errors.Expanded.Skip(expandedBefore).Select(e => e.Expanded).ToHashSet(StringComparer.Ordinal),
        }, s);
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
        var scopeText = s.String("scope");
        RateLimitScope? scope = scopeText?.ToLowerInvariant() switch
        {
            null => null,
            "replica" => RateLimitScope.Replica,
            "global" => RateLimitScope.Global,
            _ => null,
        };
        if (scopeText is not null && scope is null)
        {
            s.Error("scope", $"unknown scope '{scopeText}' (expected \"replica\" or \"global\")");
        }

        return new RateLimitConfig
        {
            Requests = s.Int("requests", v => v >= 1, ">= 1") ?? d.Requests,
            Scope = scope ?? d.Scope,
            PeriodSeconds = Within(s, "period_seconds", s.Number("period_seconds", v => v > 0, "> 0"), 0.001, "0.001 (1 ms)", Day, OneDay) ?? d.PeriodSeconds,
        };
    }

    private RetryConfig? ReadRetry(ConfigSection? s)
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

        return errors.Track(retry, s);
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

private List<AliasConfig> ReadAliases(ConfigSection backend)
    {
        var result = new List<AliasConfig>();
        foreach (var s in backend.Sections("aliases", ConfigKeys.Of<AliasConfig>()))
        {
            var from = s.String("from");
            var to = s.String("to");
            if (!s.Has("from"))
            {
                s.Missing("from");
            }

            if (!s.Has("to"))
            {
                s.Missing("to");
            }

            // Every entry, so the validator sees each one; an entry with a missing or bad key is an error anyway.
            result.Add(errors.Track(new AliasConfig(from ?? "", to ?? ""), s));
        }

        return result;
    }

private List<InjectArgsConfig> ReadInjectArgs(ConfigSection backend)
    {
        var result = new List<InjectArgsConfig>();
        foreach (var s in backend.Sections("inject_args", ConfigKeys.Of<InjectArgsConfig>()))
        {
            var tool = s.String("tool");
            if (!s.Has("tool"))
            {
                s.Missing("tool");
            }

            var args = s.Json("args");
            var overwrite = s.Bool("overwrite");
            result.Add(errors.Track(new InjectArgsConfig { Tool = tool ?? "", Args = args ?? [], Overwrite = overwrite ?? false }, s));
        }

        return result;
    }

    // ---------------------------------------------------------------- [auth]

private AuthConfig ReadAuth(ConfigSection s)
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
        var roles = ReadRoles(s);
        var defaultRole = s.String("default_role");
        var adminRoles = s.StringList("admin_roles");
        var tokenTypes = s.StringList("token_types");
        return errors.Track(new AuthConfig
        {
            DefaultRole = defaultRole,
            AdminRoles = adminRoles ?? [],
            TokenTypes = tokenTypes ?? AuthConfig.DefaultTokenTypes,
            Type = type ?? AuthType.Bearer,
            Tokens = tokens ?? [],
            Issuer = issuer,
            Audience = audience,
            JwksUri = jwksUri,
            Roles = roles,
            RoleMapping = ReadRoleMapping(s.Section("role_mapping", ConfigKeys.Of<RoleMappingConfig>())),
        }, s);
    }

private List<RoleConfig> ReadRoles(ConfigSection auth)
    {
        var result = new List<RoleConfig>();
        foreach (var s in auth.Sections("roles", ConfigKeys.Of<RoleConfig>()))
        {
            var name = s.String("name");
            if (!s.Has("name"))
            {
                s.Missing("name");
            }

            result.Add(errors.Track(new RoleConfig
            {
                Name = name ?? "",
                AllowTools = s.StringList("allow_tools") ?? [],
                DenyTools = s.StringList("deny_tools") ?? [],
                AllowPrompts = s.StringList("allow_prompts") ?? [],
                DenyPrompts = s.StringList("deny_prompts") ?? [],
                AllowResources = s.StringList("allow_resources") ?? [],
                DenyResources = s.StringList("deny_resources") ?? [],
            }, s));
        }

        return result;
    }

private RoleMappingConfig? ReadRoleMapping(ConfigSection? s)
    {
        if (s is null)
        {
            return null;
        }

        var d = new RoleMappingConfig();
        return errors.Track(new RoleMappingConfig
        {
            Claim = s.String("claim") ?? d.Claim,
            Mapping = s.StringMap("mapping") ?? d.Mapping,
        }, s);
    }

    // ---------------------------------------------------------------- [performance], [security], [observability]

    private static PerformanceConfig ReadPerformance(ConfigSection? s) =>
        s is null ? new PerformanceConfig() : new PerformanceConfig { CoalesceRequests = s.Bool("coalesce_requests") ?? false };

private SecurityConfig ReadSecurity(ConfigSection? s)
    {
        var d = new SecurityConfig();
        if (s is null)
        {
            return d;
        }

        var adminToken = s.String("admin_token");
        return errors.Track(new SecurityConfig
        {
            MaxArgumentSize = AtMost(s, "max_argument_size", s.Long("max_argument_size", v => v >= 1, ">= 1"), MaxSize, "2147483647") ?? d.MaxArgumentSize,
            MaxRequestBody = AtMost(s, "max_request_body", s.Long("max_request_body", v => v >= 1024, ">= 1024"), MaxSize, "2147483647"),
            // At most 1 GiB: one message is held in memory (a byte array) while it is read.
            MaxResultSize = s.Long("max_result_size", v => v is >= 1024 and <= 1L << 30, "between 1024 and 1073741824") ?? d.MaxResultSize,
            AllowedOrigins = s.StringList("allowed_origins") ?? d.AllowedOrigins,
            AllowedHosts = s.StringList("allowed_hosts"),
            AdminToken = string.IsNullOrEmpty(adminToken) ? null : adminToken,
            AdminAllowForwarded = s.Bool("admin_allow_forwarded") ?? d.AdminAllowForwarded,
        }, s);
    }

private ObservabilityConfig ReadObservability(ConfigSection? s)
    {
        var d = new ObservabilityConfig();
        if (s is null)
        {
            return d;
        }

        var metrics = s.Section("metrics", ConfigKeys.Of<MetricsConfig>());
        return errors.Track(new ObservabilityConfig
        {
            Audit = s.Bool("audit") ?? d.Audit,
            LogLevel = s.String("log_level")?.ToLowerInvariant() ?? d.LogLevel,
            JsonLogs = s.Bool("json_logs") ?? d.JsonLogs,
            AuditArguments = s.Bool("audit_arguments") ?? d.AuditArguments,
            HealthMinReadyPercent = s.Number("health_min_ready_percent", v => v is >= 0 and <= 100, Percent) ?? d.HealthMinReadyPercent,
            Metrics = new MetricsConfig { Enabled = metrics?.Bool("enabled") ?? d.Metrics.Enabled },
            Tracing = ReadTracing(s.Section("tracing", ConfigKeys.Of<TracingConfig>())),
        }, s);
    }

private TracingConfig ReadTracing(ConfigSection? s)
    {
        var d = new TracingConfig();
        if (s is null)
        {
            return d;
        }

        return errors.Track(new TracingConfig
        {
            Enabled = s.Bool("enabled") ?? d.Enabled,
            Endpoint = s.String("endpoint") ?? d.Endpoint,
            ServiceName = s.String("service_name") ?? d.ServiceName,
            Protocol = s.String("protocol") ?? d.Protocol,
        }, s);
    }

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
}
