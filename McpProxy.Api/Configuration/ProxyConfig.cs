using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace McpProxy.Configuration;

/// <summary>
/// Configuration: the immutable model of <c>mcp-proxy.toml</c> (see <see cref="ConfigLoader"/> for parsing,
/// <c>${VAR}</c> expansion and validation). Every key of the original crate's reference config maps here.
/// </summary>
public sealed record ProxyConfig
{
    public ProxySection Proxy { get; init; } = new();
    public IReadOnlyList<BackendConfig> Backends { get; init; } = [];
    public AuthConfig? Auth { get; init; }
    public PerformanceConfig Performance { get; init; } = new();
    public SecurityConfig Security { get; init; } = new();
    public ObservabilityConfig Observability { get; init; } = new();

    /// <summary>Full path of the file this config was read from (null when parsed from a string).</summary>
    [NotAKey]
    public string? SourcePath { get; init; }

    /// <summary>Directory relative paths resolve against (the config file's directory, else the current directory).</summary>
    [NotAKey]
    public string BaseDirectory { get; init; } = Directory.GetCurrentDirectory();

    /// <summary>Every string value that came from <c>${VAR}</c> expansion: redacted wherever the config is shown.</summary>
    internal IReadOnlySet<string> ExpandedValues { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    public bool Equals(ProxyConfig? other) => StructuralEquality.Equal(this, other);

    public override int GetHashCode() => StructuralEquality.Hash(this);
}

/// <summary><c>[proxy]</c></summary>
public sealed record ProxySection
{
    public string Name { get; init; } = "mcp-proxy";
    public string Version { get; init; } = "0.1.0";
    /// <summary>Separator between namespace and item name (default <c>/</c>).</summary>
    public string Separator { get; init; } = "/";
    public int ShutdownTimeoutSeconds { get; init; } = 30;
    public bool HotReload { get; init; }
    public string? Instructions { get; init; }
    public ListenConfig Listen { get; init; } = new();
    public SessionsConfig Sessions { get; init; } = new();
    public NamesConfig Names { get; init; } = new();
    public MrtrConfig Mrtr { get; init; } = new();
}

/// <summary>
/// <c>[proxy.mrtr]</c>: the <c>requestState</c> the proxy issues in <c>input_required</c> results (Multi Round-Trip
/// Requests, protocol 2026-07-28; see <c>Mrtr.RequestStateProtector</c>).
/// </summary>
public sealed record MrtrConfig
{
    /// <summary>
    /// AES-256 keys, 32 bytes each, base64 (<c>${VAR}</c>-expandable): the first seals, every one opens — put a new key
    /// first and keep the previous one for at least <see cref="StateTtlSeconds"/> to rotate. Empty: a random key per
    /// process (a warning at start; a retry that lands on another replica then fails).
    /// </summary>
    [Secret]
    public IReadOnlyList<string> StateKeys { get; init; } = [];

    /// <summary>How long an issued <c>requestState</c> (and a parked exchange behind it) stays valid (default 300).</summary>
    public int StateTtlSeconds { get; init; } = 300;
}

/// <summary>Which characters an exposed tool, prompt or resource name may contain (<c>[proxy.names] charset</c>).</summary>
public enum NameCharset
{
    /// <summary>No character rewriting: names are the backend's own, joined with the configured separator (the default, as before).</summary>
    Any,
    /// <summary>The MCP specification's recommended set <c>[A-Za-z0-9_.-]</c>; a separator outside it is written <c>__</c>.</summary>
    Mcp,
}

/// <summary>
/// <c>[proxy.names]</c>: the name policy (extension). Every exposed tool and prompt name (and every resource's
/// <c>name</c> field) is at most <see cref="MaxLength"/> characters, all from <see cref="Charset"/>; a name that
/// does not fit is rewritten deterministically with a short hash suffix (see <c>Routing.NamePolicy</c>).
/// </summary>
public sealed record NamesConfig
{
    public const int MinLength = 32;
    public const int MaxMaxLength = 1024;

    /// <summary>Longest exposed name, in characters (default 64: what Claude Code and model APIs accept).</summary>
    public int MaxLength { get; init; } = 64;
    public NameCharset Charset { get; init; } = NameCharset.Any;
}

/// <summary><c>[proxy.sessions]</c>: bounds on client sessions (extension).</summary>
public sealed record SessionsConfig
{
    /// <summary>A session with no request for this long is closed (its id then gets 404).</summary>
    public int IdleTimeoutSeconds { get; init; } = 1800;
    /// <summary>Sessions open at once, all callers together; a new one past it is refused with 429.</summary>
    public int MaxSessions { get; init; } = 10_000;
    /// <summary>
    /// Sessions one caller may hold at once (an authenticated caller by its identity, an unauthenticated one by its
    /// remote address); a new one past it is refused with 429.
    /// </summary>
    public int MaxSessionsPerCaller { get; init; } = 100;
}

/// <summary><c>[proxy.listen]</c></summary>
public sealed record ListenConfig
{
    public string Host { get; init; } = "127.0.0.1";
    public int Port { get; init; } = 8080;
    /// <summary>Path of the MCP endpoint (extension; default <c>/mcp</c>).</summary>
    public string Path { get; init; } = "/mcp";
    /// <summary>
    /// Also serve the deprecated HTTP+SSE transport (<c>/sse</c> + <c>/message</c>) for old clients (extension;
    /// default off: <c>/message</c> has no backpressure).
    /// </summary>
    public bool LegacySse { get; init; }
}

public enum BackendTransport { Stdio, Http }

/// <summary><c>[[backends]]</c></summary>
public sealed record BackendConfig
{
    public required string Name { get; init; }

    /// <summary>Line of the <c>[[backends]]</c> header, for errors found after loading (not part of the config's value).</summary>
    [JsonIgnore]
    [NotAKey]
    [NotCompared]
    public int? SourceLine { get; init; }

    public BackendTransport Transport { get; init; }
    // stdio
    public string? Command { get; init; }
    [Secret]
    public IReadOnlyList<string> Args { get; init; } = [];
    [Secret]
    public IReadOnlyDictionary<string, string> Env { get; init; } = new Dictionary<string, string>();
    /// <summary>
    /// <see langword="true"/>: the stdio child inherits the proxy's whole environment (extension; default
    /// <see langword="false"/>: only a minimal set — see <c>Backends.ChildEnvironment</c> — plus <see cref="Env"/>).
    /// </summary>
    public bool InheritEnv { get; init; }
    /// <summary>Working directory of a stdio child (extension; default: the config file's directory).</summary>
    public string? Cwd { get; init; }
    // http
    public string? Url { get; init; }
    [Secret]
    public string? BearerToken { get; init; }
    public bool ForwardAuth { get; init; }

    /// <summary>This backend's string values that came from <c>${VAR}</c> expansion (it outlives its file on hot reload).</summary>
    internal IReadOnlySet<string> ExpandedValues { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    public TimeoutConfig? Timeout { get; init; }
    public ConcurrencyConfig? Concurrency { get; init; }
    public CacheConfig? Cache { get; init; }
    public CircuitBreakerConfig? CircuitBreaker { get; init; }
    public RateLimitConfig? RateLimit { get; init; }
    public RetryConfig? Retry { get; init; }
    public HedgingConfig? Hedging { get; init; }
    public OutlierDetectionConfig? OutlierDetection { get; init; }

    public IReadOnlyList<AliasConfig> Aliases { get; init; } = [];
    public IReadOnlyList<string>? ExposeTools { get; init; }
    public IReadOnlyList<string>? HideTools { get; init; }
    public IReadOnlyList<string>? ExposeResources { get; init; }
    public IReadOnlyList<string>? HideResources { get; init; }
    public IReadOnlyList<string>? ExposePrompts { get; init; }
    public IReadOnlyList<string>? HidePrompts { get; init; }

    /// <summary><c>[backends.default_args]</c>: merged into every tool call, never overwriting.</summary>
    [Secret]
    public JsonObject? DefaultArgs { get; init; }
    public IReadOnlyList<InjectArgsConfig> InjectArgs { get; init; } = [];

    public string? MirrorOf { get; init; }
    public double MirrorPercent { get; init; } = 100;

    /// <summary>Tools (globs, backend names) safe to retry and hedge whatever their annotations say (extension).</summary>
    public IReadOnlyList<string>? IdempotentTools { get; init; }

    /// <summary>Tools (globs, backend names) never retried or hedged, even when annotated read-only or idempotent (extension).</summary>
    public IReadOnlyList<string>? NonIdempotentTools { get; init; }

    /// <summary>
    /// <see langword="false"/>: this backend's tools, prompts and resources are exposed under their own names, and names
    /// no other backend claims are forwarded to it unchanged — a transparent front for one server (extension; at most one
    /// backend).
    /// </summary>
    public bool Namespaced { get; init; } = true;

    /// <summary>
    /// The protocol era spoken to this backend (extension): <c>auto</c> (default) probes with <c>server/discover</c> and
    /// falls back to <c>initialize</c>; <c>2026-07-28</c> or <c>2025-11-25</c> pin one era and refuse a backend that
    /// does not speak it (the pinned revision is also the minimum the MCP client accepts).
    /// </summary>
    public string Protocol { get; init; } = "auto";

    /// <summary>
    /// How long the <c>server/discover</c> probe of <c>protocol = "auto"</c> waits before falling back to
    /// <c>initialize</c> (extension; default 5000 ms, the SDK's): a legacy server that silently drops unknown methods
    /// costs this much on every connect.
    /// </summary>
    public int DiscoverTimeoutMs { get; init; } = 5000;

    /// <summary>
    /// The fast path for this HTTP backend (extension; default <see langword="true"/>): a 2026-07-28 caller's
    /// <c>tools/call</c>, <c>prompts/get</c> and <c>resources/read</c> to it are routed and forwarded as bytes, without the
    /// SDK's message model, with every policy still applied (README "Fast path"). <see langword="false"/>: every call takes the typed path.
    /// </summary>
    public bool FastPath { get; init; } = true;

    public bool Equals(BackendConfig? other) => StructuralEquality.Equal(this, other);

    public override int GetHashCode() => StructuralEquality.Hash(this);
}

public sealed record TimeoutConfig { public double Seconds { get; init; } = 30; }
public sealed record ConcurrencyConfig
{
    public int MaxConcurrent { get; init; } = 10;
    /// <summary>Calls that may wait for a slot beyond <see cref="MaxConcurrent"/>; more are refused at once (extension).</summary>
    public int MaxQueued { get; init; } = 100;
}
public sealed record CacheConfig
{
    public int ResourceTtlSeconds { get; init; }
    public int ToolTtlSeconds { get; init; }
    public int MaxEntries { get; init; } = 1000;
    /// <summary>When set, exactly these tools (globs, backend names) are cached, read-only or not: an explicit choice (extension).</summary>
    public IReadOnlyList<string> CacheTools { get; init; } = [];

    public bool Equals(CacheConfig? other) => StructuralEquality.Equal(this, other);

    public override int GetHashCode() => StructuralEquality.Hash(this);
}
public sealed record CircuitBreakerConfig
{
    public double FailureRateThreshold { get; init; } = 0.5;
    public int MinimumCalls { get; init; } = 5;
    public double WaitDurationSeconds { get; init; } = 30;
    public int PermittedCallsInHalfOpen { get; init; } = 3;
    /// <summary>Sliding window over which the failure rate is measured while closed (extension).</summary>
    public double WindowSeconds { get; init; } = 60;
}
public sealed record RateLimitConfig
{
    public int Requests { get; init; } = 100;
    public double PeriodSeconds { get; init; } = 1;
    /// <summary>Whose calls the limit counts: this replica's (the default) or the whole fleet's, through Redis.</summary>
    public RateLimitScope Scope { get; init; } = RateLimitScope.Replica;
}

/// <summary><c>[backends.rate_limit] scope</c>: where the fixed window is counted.</summary>
public enum RateLimitScope
{
    /// <summary>Per proxy replica, in memory: N replicas admit up to N × <c>requests</c> per period.</summary>
    Replica,
    /// <summary>
    /// Across every replica sharing the cache's Redis (<c>ConnectionStrings:cache</c>): one counter per backend.
    /// Without that connection, or while Redis is down, the replica's own limiter counts instead (logged).
    /// </summary>
    Global,
}
public sealed record RetryConfig
{
    public int MaxRetries { get; init; } = 3;
    public int InitialBackoffMs { get; init; } = 100;
    public int MaxBackoffMs { get; init; } = 5000;
    public double BudgetPercent { get; init; } = 20.0;
    public int MinRetriesPerSec { get; init; } = 10;
}
public sealed record HedgingConfig
{
    public int DelayMs { get; init; } = 200;
    public int MaxHedges { get; init; } = 1;
}
public sealed record OutlierDetectionConfig
{
    public int ConsecutiveErrors { get; init; } = 5;
    public double IntervalSeconds { get; init; } = 10;
    public double BaseEjectionSeconds { get; init; } = 30;
    public double MaxEjectionPercent { get; init; } = 50;
}

/// <summary><c>[[backends.aliases]]</c>: backend tool <c>from</c> is exposed as <c>{backend}{sep}{to}</c>.</summary>
public sealed record AliasConfig(string From, string To);

/// <summary><c>[[backends.inject_args]]</c></summary>
public sealed record InjectArgsConfig
{
    public required string Tool { get; init; }
    [Secret]
    public JsonObject Args { get; init; } = [];
    public bool Overwrite { get; init; }

    public bool Equals(InjectArgsConfig? other) => StructuralEquality.Equal(this, other);

    public override int GetHashCode() => StructuralEquality.Hash(this);
}

public enum AuthType { Bearer, Jwt }

/// <summary><c>[auth]</c></summary>
public sealed record AuthConfig
{
    public AuthType Type { get; init; }
    [Secret]
    public IReadOnlyList<string> Tokens { get; init; } = [];
    public string? Issuer { get; init; }
    public string? Audience { get; init; }
    public string? JwksUri { get; init; }
    public IReadOnlyList<RoleConfig> Roles { get; init; } = [];
    public RoleMappingConfig? RoleMapping { get; init; }
    /// <summary>Role of a caller whose token maps to no role (extension); without it such a caller is refused (403).</summary>
    public string? DefaultRole { get; init; }
    /// <summary>
    /// Roles (names of <c>[[auth.roles]]</c>) whose callers may use the admin API (extension). Matched against the roles
    /// a caller resolves to (its <c>role_mapping</c> values, or <c>default_role</c> when none maps); empty: only
    /// <c>[security] admin_token</c> opens the admin API.
    /// </summary>
    public IReadOnlyList<string> AdminRoles { get; init; } = [];
    /// <summary>
    /// JWT <c>typ</c> header values accepted (extension; case-insensitive, an <c>application/</c> prefix may be left
    /// out; a token without <c>typ</c> counts as <c>JWT</c>). Default: RFC 9068 access tokens and generic JWTs.
    /// </summary>
    public IReadOnlyList<string> TokenTypes { get; init; } = DefaultTokenTypes;

    public static readonly IReadOnlyList<string> DefaultTokenTypes = ["at+jwt", "JWT"];

    public bool Equals(AuthConfig? other) => StructuralEquality.Equal(this, other);

    public override int GetHashCode() => StructuralEquality.Hash(this);
}

public sealed record RoleConfig
{
    public required string Name { get; init; }
    public IReadOnlyList<string> AllowTools { get; init; } = [];
    public IReadOnlyList<string> DenyTools { get; init; } = [];
    public IReadOnlyList<string> AllowPrompts { get; init; } = [];
    public IReadOnlyList<string> DenyPrompts { get; init; } = [];
    public IReadOnlyList<string> AllowResources { get; init; } = [];
    public IReadOnlyList<string> DenyResources { get; init; } = [];

    public bool Equals(RoleConfig? other) => StructuralEquality.Equal(this, other);

    public override int GetHashCode() => StructuralEquality.Hash(this);
}

public sealed record RoleMappingConfig
{
    public string Claim { get; init; } = "scope";
    public IReadOnlyDictionary<string, string> Mapping { get; init; } = new Dictionary<string, string>();

    public bool Equals(RoleMappingConfig? other) => StructuralEquality.Equal(this, other);

    public override int GetHashCode() => StructuralEquality.Hash(this);
}

/// <summary><c>[performance]</c></summary>
public sealed record PerformanceConfig { public bool CoalesceRequests { get; init; } }

/// <summary><c>[security]</c></summary>
public sealed record SecurityConfig
{
    public long MaxArgumentSize { get; init; } = 1_048_576;
    /// <summary>Limit of an HTTP request body (extension; default: 2 × max_argument_size + 64 KiB, at least 4 MiB).</summary>
    public long? MaxRequestBody { get; init; }
    /// <summary>Browser origins allowed (extension; <c>"*"</c> allows any); beyond loopback the only origins that pass.</summary>
    public IReadOnlyList<string> AllowedOrigins { get; init; } = [];
    /// <summary>Host names the proxy answers to (extension; default: loopback names when it listens on loopback only, else any).</summary>
    public IReadOnlyList<string>? AllowedHosts { get; init; }
    /// <summary>A token that opens the admin API (extension).</summary>
    [Secret]
    public string? AdminToken { get; init; }
    /// <summary>
    /// Without <c>[auth]</c> and <c>admin_token</c> the admin API answers direct loopback callers only; a loopback request
    /// that carries forwarding headers (relayed by a reverse proxy) is refused unless this is set (extension).
    /// </summary>
    public bool AdminAllowForwarded { get; init; }
    /// <summary>
    /// Largest message a backend may send, in bytes: a result past it is refused while it is read and the caller gets
    /// an error naming the backend and this key (extension; default 16 MiB).
    /// </summary>
    public long MaxResultSize { get; init; } = 16 * 1024 * 1024;

    [NotAKey]
    [NotCompared]
    public long EffectiveMaxRequestBody => MaxRequestBody ?? Math.Max(4L * 1024 * 1024, (2 * MaxArgumentSize) + (64 * 1024));

    public bool Equals(SecurityConfig? other) => StructuralEquality.Equal(this, other);

    public override int GetHashCode() => StructuralEquality.Hash(this);
}

/// <summary><c>[observability]</c></summary>
public sealed record ObservabilityConfig
{
    public bool Audit { get; init; }
    public string LogLevel { get; init; } = "info";
    public bool JsonLogs { get; init; }
    public MetricsConfig Metrics { get; init; } = new();
    public TracingConfig Tracing { get; init; } = new();
    /// <summary>Audit events include the call's argument values (extension; default off).</summary>
    public bool AuditArguments { get; init; }
    /// <summary><c>/admin/health</c> answers 503 when fewer than this share of the backends is ready (extension).</summary>
    public double HealthMinReadyPercent { get; init; } = 50;
}

public sealed record MetricsConfig { public bool Enabled { get; init; } }
public sealed record TracingConfig
{
    public bool Enabled { get; init; }
    public string Endpoint { get; init; } = "http://localhost:4317";
    public string ServiceName { get; init; } = "mcp-proxy";
    /// <summary><c>grpc</c> (default, port 4317) or <c>http/protobuf</c> (port 4318, <c>/v1/traces</c> is appended) (extension).</summary>
    public string Protocol { get; init; } = "grpc";
}
