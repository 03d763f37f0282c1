using McpProxy.Configuration;
using Xunit;
using static McpProxy.Tests.Configuration.ConfigTestSupport;

namespace McpProxy.Tests.Configuration;

/// <summary>
/// One case per validation rule: the config is otherwise valid, so exactly one error is reported, with its key,
/// backend and line (the line marked <c># &lt;-</c> in the case's TOML).
/// </summary>
public sealed class ConfigValidationTests
{
    private const string Marker = "# <-";

    /// <summary>A valid stdio backend header (lines 1-4), to which a case appends.</summary>
    private const string Files = """
        [[backends]]
        name = "files"
        transport = "stdio"
        command = "npx"

        """;

    /// <summary>A valid http backend (lines 1-4).</summary>
    private const string Remote = """
        [[backends]]
        name = "remote"
        transport = "http"
        url = "http://localhost:9000/mcp"

        """;

    private sealed record Rule(string Toml, string Key, string? Backend, string Message);

    private static readonly Dictionary<string, Rule> Rules = new()
    {
        // --- TOML itself
        ["syntax error"] = new("[proxy]\nname = # <-\n", "", null, "TOML syntax error at column 12: Unexpected token end-of-line"),
        ["duplicate key (TOML)"] = new("[proxy]\nname = \"a\"\nname = \"b\" # <-\n", "", null, "already defined"),
        ["unknown root table"] = new("[proxyy] # <-\nname = \"x\"\n", "proxyy", null, "unknown key 'proxyy' (did you mean 'proxy'?)"),
        ["unknown proxy key"] = new("[proxy]\nseperator = \"/\" # <-\n", "proxy.seperator", null, "did you mean 'separator'?"),
        ["unknown backend key"] = new(Files + "comand = \"x\" # <-\n", "backends.comand", "files", "unknown key 'comand'"),
        ["unknown backend table"] = new(Files + "[backends.timeot] # <-\nseconds = 5\n", "backends.timeot", "files", "unknown key 'timeot' (did you mean 'timeout'?)"),
        ["unknown key in backend sub-table"] = new(Files + "[backends.timeout]\nsecond = 5 # <-\n", "backends.timeout.second", "files", "unknown key 'second'"),
        ["unknown key in alias"] = new(Files + "[[backends.aliases]]\nfrom = \"a\"\nto = \"b\"\nexpose_tools = [\"a\"] # <-\n", "backends.aliases[0].expose_tools", "files", "unknown key 'expose_tools'"),
        ["unknown key in auth role"] = new("[auth]\ntype = \"bearer\"\ntokens = [\"t\"]\n[[auth.roles]]\nname = \"r\"\nallowed_tools = [] # <-\n", "auth.roles[0].allowed_tools", null, "did you mean 'allow_tools'?"),
        ["unknown observability key"] = new("[observability.metrics]\nenable = true # <-\n", "observability.metrics.enable", null, "did you mean 'enabled'?"),

        // --- wrong types
        ["string where integer expected"] = new("[proxy.listen]\nport = \"8080\" # <-\n", "proxy.listen.port", null, "expected an integer, got a string (\"8080\")"),
        ["float where integer expected"] = new(Files + "[backends.concurrency]\nmax_concurrent = 1.5 # <-\n", "backends.concurrency.max_concurrent", "files", "expected an integer, got a float (1.5)"),
        ["string where number expected"] = new(Files + "[backends.timeout]\nseconds = \"30\" # <-\n", "backends.timeout.seconds", "files", "expected a number"),
        ["integer where string expected"] = new("[[backends]]\nname = \"files\"\ntransport = \"stdio\"\ncommand = 5 # <-\n", "backends.command", "files", "expected a string, got an integer (5)"),
        ["string where boolean expected"] = new(Remote + "forward_auth = \"yes\" # <-\n", "backends.forward_auth", "remote", "expected a boolean"),
        ["string where array expected"] = new(Files + "args = \"-y\" # <-\n", "backends.args", "files", "expected an array of strings"),
        ["non-string array item"] = new(Files + "args = [\"-y\",\n  5] # <-\n", "backends.args[1]", "files", "expected a string, got an integer (5)"),
        ["value where table expected"] = new(Files + "timeout = 5 # <-\n", "backends.timeout", "files", "expected a table, got an integer (5)"),
        ["backends not an array of tables"] = new("backends = \"files\" # <-\n", "backends", null, "expected an array of tables"),
        ["backends item not a table"] = new("backends = [\"files\"] # <-\n", "backends", "#1", "expected a table"),
        ["env value not a string"] = new(Files + "env = { A = [1] } # <-\n", "backends.env.A", "files", "expected a string, got an array"),

        // --- backend name
        ["empty backend entry"] = new("[[backends]] # <-\n", "backends", "#1", "empty [[backends]] entry"),
        ["name missing"] = new("[[backends]] # <-\ntransport = \"stdio\"\ncommand = \"x\"\n", "backends.name", "#1", "'name' is required"),
        ["name empty"] = new("[[backends]]\nname = \"\" # <-\ntransport = \"stdio\"\ncommand = \"x\"\n", "backends.name", "#1", "must not be empty"),
        ["name duplicate"] = new(Files + Files.Replace("name = \"files\"", "name = \"files\" # <-", StringComparison.Ordinal), "backends.name", "files", "duplicate backend name 'files' (first defined on line 2)"),
        ["name contains separator"] = new("[[backends]]\nname = \"my/files\" # <-\ntransport = \"stdio\"\ncommand = \"x\"\n", "backends.name", "my/files", "must not contain the separator '/'"),
        ["names charset unknown"] = new("[proxy.names]\ncharset = \"ascii\" # <-\n", "proxy.names.charset", null, "unknown charset 'ascii' (expected \"mcp\" for [A-Za-z0-9_.-], or \"any\")"),
        ["names max_length too small"] = new("[proxy.names]\nmax_length = 8 # <-\n", "proxy.names.max_length", null, "between 32 and 1024"),
        ["names max_length too large"] = new("[proxy.names]\nmax_length = 5000 # <-\n", "proxy.names.max_length", null, "between 32 and 1024"),
        ["unknown names key"] = new("[proxy.names]\nmax_lenght = 40 # <-\n", "proxy.names.max_lenght", null, "did you mean 'max_length'?"),
        ["legacy_sse not a boolean"] = new("[proxy.listen]\nlegacy_sse = \"yes\" # <-\n", "proxy.listen.legacy_sse", null, "expected a boolean"),
        ["name contains custom separator"] = new("[proxy]\nseparator = \"__\"\n[[backends]]\nname = \"my__files\" # <-\ntransport = \"stdio\"\ncommand = \"x\"\n", "backends.name", "my__files", "must not contain the separator '__'"),

        // --- transport
        ["transport missing"] = new("[[backends]] # <-\nname = \"files\"\ncommand = \"x\"\n", "backends.transport", "files", "'transport' is required"),
        ["transport unknown"] = new("[[backends]]\nname = \"files\"\ntransport = \"foo\" # <-\n", "backends.transport", "files", "unknown transport 'foo' (expected \"stdio\" or \"http\")"),
        ["stdio requires command"] = new("[[backends]] # <-\nname = \"files\"\ntransport = \"stdio\"\n", "backends.command", "files", "'command' is required for a stdio backend"),
        ["stdio command empty"] = new("[[backends]]\nname = \"files\"\ntransport = \"stdio\"\ncommand = \"\" # <-\n", "backends.command", "files", "must not be empty"),
        ["stdio forbids url"] = new(Files + "url = \"http://x\" # <-\n", "backends.url", "files", "only valid for http backends"),
        ["stdio forbids bearer_token"] = new(Files + "bearer_token = \"t\" # <-\n", "backends.bearer_token", "files", "only valid for http backends"),
        ["stdio forbids forward_auth"] = new(Files + "forward_auth = true # <-\n", "backends.forward_auth", "files", "only valid for http backends"),
        ["http requires url"] = new("[[backends]] # <-\nname = \"remote\"\ntransport = \"http\"\n", "backends.url", "remote", "'url' is required for an http backend"),
        ["http url relative"] = new("[[backends]]\nname = \"remote\"\ntransport = \"http\"\nurl = \"/mcp\" # <-\n", "backends.url", "remote", "must be an absolute http or https URL (got '/mcp')"),
        ["http url not http"] = new("[[backends]]\nname = \"remote\"\ntransport = \"http\"\nurl = \"ftp://host/mcp\" # <-\n", "backends.url", "remote", "absolute http or https URL"),
        ["http forbids command"] = new(Remote + "command = \"npx\" # <-\n", "backends.command", "remote", "only valid for stdio backends"),
        ["http forbids args"] = new(Remote + "args = [] # <-\n", "backends.args", "remote", "only valid for stdio backends"),
        ["http forbids env"] = new(Remote + "[backends.env] # <-\nA = \"b\"\n", "backends.env", "remote", "only valid for stdio backends"),
        ["http forbids cwd"] = new(Remote + "cwd = \".\" # <-\n", "backends.cwd", "remote", "only valid for stdio backends"),
        ["http forbids inherit_env"] = new(Remote + "inherit_env = true # <-\n", "backends.inherit_env", "remote", "only valid for stdio backends"),
        ["inherit_env not a bool"] = new(Files + "inherit_env = \"yes\" # <-\n", "backends.inherit_env", "files", "expected a boolean"),

        ["max_result_size too small"] = new("[security]\nmax_result_size = 100 # <-\n", "security.max_result_size", null, "between 1024 and 1073741824"),
        ["max_result_size too large"] = new("[security]\nmax_result_size = 4294967296 # <-\n", "security.max_result_size", null, "between 1024 and 1073741824"),

        // --- [proxy.sessions]
        ["idle_timeout_seconds zero"] = new("[proxy.sessions]\nidle_timeout_seconds = 0 # <-\n", "proxy.sessions.idle_timeout_seconds", null, "between 1 and 86400"),
        ["max_sessions zero"] = new("[proxy.sessions]\nmax_sessions = 0 # <-\n", "proxy.sessions.max_sessions", null, "between 1 and 1000000"),
        ["max_sessions_per_caller negative"] = new("[proxy.sessions]\nmax_sessions_per_caller = -1 # <-\n", "proxy.sessions.max_sessions_per_caller", null, "between 1 and 1000000"),
        ["unknown sessions key"] = new("[proxy.sessions]\nmax_session = 5 # <-\n", "proxy.sessions.max_session", null, "unknown key 'max_session'"),

        // --- filters
        ["expose_tools with hide_tools"] = new(Files + "expose_tools = [\"a\"]\nhide_tools = [\"b\"] # <-\n", "backends.hide_tools", "files", "expose_tools and hide_tools are mutually exclusive"),
        ["expose_resources with hide_resources"] = new(Files + "hide_resources = [\"b\"] # <-\nexpose_resources = [\"a\"]\n", "backends.hide_resources", "files", "expose_resources and hide_resources are mutually exclusive"),
        ["expose_prompts with hide_prompts"] = new(Files + "expose_prompts = []\nhide_prompts = [] # <-\n", "backends.hide_prompts", "files", "expose_prompts and hide_prompts are mutually exclusive"),

        // --- aliases
        ["alias from missing"] = new(Files + "[[backends.aliases]] # <-\nto = \"b\"\n", "backends.aliases[0].from", "files", "'from' is required"),
        ["alias from empty"] = new(Files + "[[backends.aliases]]\nfrom = \"\" # <-\nto = \"b\"\n", "backends.aliases[0].from", "files", "must not be empty"),
        ["alias to missing"] = new(Files + "[[backends.aliases]] # <-\nfrom = \"a\"\n", "backends.aliases[0].to", "files", "'to' is required"),
        ["alias to empty"] = new(Files + "[[backends.aliases]]\nfrom = \"a\"\nto = \" \" # <-\n", "backends.aliases[0].to", "files", "must not be empty"),
        ["alias to contains separator"] = new(Files + "[[backends.aliases]]\nfrom = \"a\"\nto = \"x/y\" # <-\n", "backends.aliases[0].to", "files", "must not contain the separator '/'"),
        ["alias duplicate to"] = new(Files + "[[backends.aliases]]\nfrom = \"a\"\nto = \"same\"\n[[backends.aliases]]\nfrom = \"b\"\nto = \"same\" # <-\n", "backends.aliases[1].to", "files", "duplicate alias 'same' (also used on line 7)"),
        ["alias duplicate from"] = new(Files + "[[backends.aliases]]\nfrom = \"a\"\nto = \"x\"\n[[backends.aliases]]\nfrom = \"a\" # <-\nto = \"y\"\n", "backends.aliases[1].from", "files", "tool 'a' is already aliased on line 6"),

        // --- numeric ranges: [proxy]
        ["port negative"] = new("[proxy.listen]\nport = -1 # <-\n", "proxy.listen.port", null, "must be between 0 and 65535 (got -1)"),
        ["port too large"] = new("[proxy.listen]\nport = 65536 # <-\n", "proxy.listen.port", null, "must be between 0 and 65535 (got 65536)"),
        ["shutdown_timeout_seconds negative"] = new("[proxy]\nshutdown_timeout_seconds = -1 # <-\n", "proxy.shutdown_timeout_seconds", null, "must be >= 0 (got -1)"),
        ["separator empty"] = new("[proxy]\nseparator = \"\" # <-\n", "proxy.separator", null, "must not be empty"),
        ["listen path without slash"] = new("[proxy.listen]\npath = \"mcp\" # <-\n", "proxy.listen.path", null, "must start with '/'"),
        ["listen host empty"] = new("[proxy.listen]\nhost = \"\" # <-\n", "proxy.listen.host", null, "must not be empty"),

        // --- numeric ranges: backends
        ["timeout zero"] = new(Files + "[backends.timeout]\nseconds = 0 # <-\n", "backends.timeout.seconds", "files", "must be > 0 (got 0)"),
        ["timeout infinite"] = new(Files + "[backends.timeout]\nseconds = inf # <-\n", "backends.timeout.seconds", "files", "must be > 0"),
        ["max_concurrent zero"] = new(Files + "[backends.concurrency]\nmax_concurrent = 0 # <-\n", "backends.concurrency.max_concurrent", "files", "must be >= 1 (got 0)"),
        ["integer overflow"] = new(Files + "[backends.concurrency]\nmax_concurrent = 3000000000 # <-\n", "backends.concurrency.max_concurrent", "files", "out of range"),
        ["max_queued negative"] = new(Files + "[backends.concurrency]\nmax_queued = -1 # <-\n", "backends.concurrency.max_queued", "files", "must be >= 0 (got -1)"),
        ["breaker window zero"] = new(Files + "[backends.circuit_breaker]\nwindow_seconds = 0 # <-\n", "backends.circuit_breaker.window_seconds", "files", "must be > 0"),
        ["idempotent_tools not a list"] = new(Files + "idempotent_tools = \"echo\" # <-\n", "backends.idempotent_tools", "files", "expected"),
        ["cache resource ttl negative"] = new(Files + "[backends.cache]\nresource_ttl_seconds = -1 # <-\n", "backends.cache.resource_ttl_seconds", "files", "must be >= 0"),
        ["cache tool ttl negative"] = new(Files + "[backends.cache]\ntool_ttl_seconds = -5 # <-\n", "backends.cache.tool_ttl_seconds", "files", "must be >= 0"),
        ["cache max_entries zero"] = new(Files + "[backends.cache]\nmax_entries = 0 # <-\n", "backends.cache.max_entries", "files", "must be >= 1"),
        ["failure_rate_threshold zero"] = new(Files + "[backends.circuit_breaker]\nfailure_rate_threshold = 0 # <-\n", "backends.circuit_breaker.failure_rate_threshold", "files", "must be > 0 and <= 1 (got 0)"),
        ["failure_rate_threshold above one"] = new(Files + "[backends.circuit_breaker]\nfailure_rate_threshold = 1.5 # <-\n", "backends.circuit_breaker.failure_rate_threshold", "files", "must be > 0 and <= 1 (got 1.5)"),
        ["minimum_calls zero"] = new(Files + "[backends.circuit_breaker]\nminimum_calls = 0 # <-\n", "backends.circuit_breaker.minimum_calls", "files", "must be >= 1"),
        ["wait_duration_seconds negative"] = new(Files + "[backends.circuit_breaker]\nwait_duration_seconds = -0.5 # <-\n", "backends.circuit_breaker.wait_duration_seconds", "files", "must be >= 0"),
        ["permitted_calls_in_half_open zero"] = new(Files + "[backends.circuit_breaker]\npermitted_calls_in_half_open = 0 # <-\n", "backends.circuit_breaker.permitted_calls_in_half_open", "files", "must be >= 1"),
        ["rate_limit requests zero"] = new(Files + "[backends.rate_limit]\nrequests = 0 # <-\n", "backends.rate_limit.requests", "files", "must be >= 1"),
        ["rate_limit period zero"] = new(Files + "[backends.rate_limit]\nperiod_seconds = 0 # <-\n", "backends.rate_limit.period_seconds", "files", "must be > 0"),
        ["retry max_retries negative"] = new(Files + "[backends.retry]\nmax_retries = -1 # <-\n", "backends.retry.max_retries", "files", "must be >= 0"),
        ["retry initial_backoff_ms negative"] = new(Files + "[backends.retry]\ninitial_backoff_ms = -1 # <-\n", "backends.retry.initial_backoff_ms", "files", "must be >= 0"),
        ["retry max_backoff_ms below initial"] = new(Files + "[backends.retry]\ninitial_backoff_ms = 500\nmax_backoff_ms = 100 # <-\n", "backends.retry.max_backoff_ms", "files", "max_backoff_ms (100) must be >= initial_backoff_ms (500)"),
        ["retry initial above default max"] = new(Files + "[backends.retry]\ninitial_backoff_ms = 10000 # <-\n", "backends.retry.initial_backoff_ms", "files", "max_backoff_ms (5000) must be >= initial_backoff_ms (10000)"),
        ["retry budget_percent above 100"] = new(Files + "[backends.retry]\nbudget_percent = 101 # <-\n", "backends.retry.budget_percent", "files", "must be between 0 and 100 (got 101)"),
        ["retry min_retries_per_sec negative"] = new(Files + "[backends.retry]\nmin_retries_per_sec = -1 # <-\n", "backends.retry.min_retries_per_sec", "files", "must be >= 0"),
        ["hedging delay negative"] = new(Files + "[backends.hedging]\ndelay_ms = -1 # <-\n", "backends.hedging.delay_ms", "files", "must be >= 0"),
        ["hedging max_hedges zero"] = new(Files + "[backends.hedging]\nmax_hedges = 0 # <-\n", "backends.hedging.max_hedges", "files", "must be >= 1"),
        ["outlier consecutive_errors zero"] = new(Files + "[backends.outlier_detection]\nconsecutive_errors = 0 # <-\n", "backends.outlier_detection.consecutive_errors", "files", "must be >= 1"),
        ["outlier interval zero"] = new(Files + "[backends.outlier_detection]\ninterval_seconds = 0 # <-\n", "backends.outlier_detection.interval_seconds", "files", "must be > 0"),
        ["outlier ejection zero"] = new(Files + "[backends.outlier_detection]\nbase_ejection_seconds = 0 # <-\n", "backends.outlier_detection.base_ejection_seconds", "files", "must be > 0"),
        ["outlier max_ejection_percent above 100"] = new(Files + "[backends.outlier_detection]\nmax_ejection_percent = 100.5 # <-\n", "backends.outlier_detection.max_ejection_percent", "files", "must be between 0 and 100"),
        ["mirror_percent negative"] = new(Remote + "mirror_percent = -1 # <-\n", "backends.mirror_percent", "remote", "must be between 0 and 100"),

        // --- protocol era
        ["protocol unknown"] = new(Remote + "protocol = \"modern\" # <-\n", "backends.protocol", "remote", "unknown protocol 'modern' (expected one of auto, 2026-07-28, 2025-11-25)"),
        ["discover_timeout_ms zero"] = new(Remote + "discover_timeout_ms = 0 # <-\n", "backends.discover_timeout_ms", "remote", "must be >= 1"),

        // --- mirroring
        ["mirror_of unknown backend"] = new(Remote + "mirror_of = \"api\" # <-\n", "backends.mirror_of", "remote", "unknown backend 'api'"),
        ["mirror_of itself"] = new(Remote + "mirror_of = \"remote\" # <-\n", "backends.mirror_of", "remote", "cannot mirror itself"),

        // --- inject_args
        ["inject_args tool missing"] = new(Files + "[[backends.inject_args]] # <-\nargs = { a = 1 }\n", "backends.inject_args[0].tool", "files", "'tool' is required"),
        ["inject_args args not a table"] = new(Files + "[[backends.inject_args]]\ntool = \"t\"\nargs = [1] # <-\n", "backends.inject_args[0].args", "files", "expected a table"),

        // --- auth
        ["auth type missing"] = new("[auth] # <-\ntokens = [\"t\"]\n", "auth.type", null, "'type' is required"),
        ["auth type unknown"] = new("[auth]\ntype = \"basic\" # <-\n", "auth.type", null, "unknown auth type 'basic' (expected \"bearer\" or \"jwt\")"),
        ["bearer tokens missing"] = new("[auth] # <-\ntype = \"bearer\"\n", "auth.tokens", null, "'tokens' is required for bearer auth"),
        ["bearer tokens empty"] = new("[auth]\ntype = \"bearer\"\ntokens = [] # <-\n", "auth.tokens", null, "at least one token"),
        ["bearer token blank"] = new("[auth]\ntype = \"bearer\"\ntokens = [\"a\", \"\"] # <-\n", "auth.tokens", null, "must not be empty"),
        ["jwt issuer missing"] = new("[auth] # <-\ntype = \"jwt\"\naudience = \"a\"\njwks_uri = \"https://x/jwks\"\n", "auth.issuer", null, "'issuer' is required for jwt auth"),
        ["jwt audience missing"] = new("[auth] # <-\ntype = \"jwt\"\nissuer = \"https://x\"\njwks_uri = \"https://x/jwks\"\n", "auth.audience", null, "'audience' is required for jwt auth"),
        ["jwt jwks_uri missing"] = new("[auth] # <-\ntype = \"jwt\"\nissuer = \"https://x\"\naudience = \"a\"\n", "auth.jwks_uri", null, "'jwks_uri' is required for jwt auth"),
        ["jwt jwks_uri not absolute"] = new("[auth]\ntype = \"jwt\"\nissuer = \"https://x\"\naudience = \"a\"\njwks_uri = \"/jwks\" # <-\n", "auth.jwks_uri", null, "must be an absolute http or https URI"),
        ["jwt jwks_uri plain http on a remote host"] = new("[auth]\ntype = \"jwt\"\nissuer = \"https://x\"\naudience = \"a\"\njwks_uri = \"http://auth.example.com/jwks\" # <-\n", "auth.jwks_uri", null, "must use https (got 'http://auth.example.com/jwks'); plain http is allowed for loopback hosts only"),
        ["jwt with bearer tokens"] = new("[auth]\ntype = \"jwt\"\nissuer = \"https://x\"\naudience = \"a\"\njwks_uri = \"https://x/jwks\"\ntokens = [\"t\"] # <-\n", "auth.tokens", null, "'tokens' is only used by bearer auth (this [auth] has type = \"jwt\"); remove it"),
        ["bearer with a jwt key"] = new("[auth]\ntype = \"bearer\"\ntokens = [\"t\"]\njwks_uri = \"https://x/jwks\" # <-\n", "auth.jwks_uri", null, "'jwks_uri' is only used by jwt auth"),
        ["role name missing"] = new("[auth]\ntype = \"bearer\"\ntokens = [\"t\"]\n[[auth.roles]] # <-\nallow_tools = []\n", "auth.roles[0].name", null, "'name' is required"),
        ["role name duplicate"] = new("[auth]\ntype = \"bearer\"\ntokens = [\"t\"]\n[[auth.roles]]\nname = \"r\"\n[[auth.roles]]\nname = \"r\" # <-\n", "auth.roles[1].name", null, "duplicate role 'r' (first defined on line 5)"),
        ["role_mapping unknown role"] = new("[auth]\ntype = \"bearer\"\ntokens = [\"t\"]\n[[auth.roles]]\nname = \"reader\"\n[auth.role_mapping]\nmapping = { \"mcp:read\" = \"reader\",\n  \"mcp:admin\" = \"admin\" } # <-\n", "auth.role_mapping.mapping.mcp:admin", null, "unknown role 'admin' (defined roles: reader)"),
        ["admin_roles unknown role"] = new("[auth]\ntype = \"bearer\"\ntokens = [\"t\"]\nadmin_roles = [\"reader\", \"admin\"] # <-\n[[auth.roles]]\nname = \"reader\"\n", "auth.admin_roles", null, "unknown role 'admin' (defined roles: reader)"),
        ["admin_roles without roles"] = new("[auth]\ntype = \"bearer\"\ntokens = [\"t\"]\nadmin_roles = [\"admin\"] # <-\n", "auth.admin_roles", null, "unknown role 'admin' (no roles are defined in [[auth.roles]])"),
        ["token_types with bearer auth"] = new("[auth]\ntype = \"bearer\"\ntokens = [\"t\"]\ntoken_types = [\"at+jwt\"] # <-\n", "auth.token_types", null, "applies to jwt auth only"),
        ["token_types empty"] = new("[auth]\ntype = \"jwt\"\nissuer = \"https://x\"\naudience = \"a\"\njwks_uri = \"https://x/jwks\"\ntoken_types = [] # <-\n", "auth.token_types", null, "must list at least one token type"),
        ["token_types blank"] = new("[auth]\ntype = \"jwt\"\nissuer = \"https://x\"\naudience = \"a\"\njwks_uri = \"https://x/jwks\"\ntoken_types = [\"at+jwt\", \" \"] # <-\n", "auth.token_types", null, "' ' is not a token type"),
        ["role_mapping value not a string"] = new("[auth]\ntype = \"bearer\"\ntokens = [\"t\"]\n[auth.role_mapping]\nmapping = { \"a\" = [] } # <-\n", "auth.role_mapping.mapping.a", null, "expected a string"),

        // --- performance, security, observability
        ["max_argument_size zero"] = new("[security]\nmax_argument_size = 0 # <-\n", "security.max_argument_size", null, "must be >= 1"),
        ["max_request_body too small"] = new("[security]\nmax_request_body = 100 # <-\n", "security.max_request_body", null, "must be >= 1024"),
        ["allowed_origins not an origin"] = new("[security]\nallowed_origins = [\"https://app.example.com/path\"] # <-\n", "security.allowed_origins", null, "'https://app.example.com/path' is not an origin"),
        ["allowed_hosts with a port"] = new("[security]\nallowed_hosts = [\"localhost\", \"mcp.example.com:8080\"] # <-\n", "security.allowed_hosts", null, "'mcp.example.com:8080' is not a host name"),
        ["admin_token too short"] = new("[security]\nadmin_token = \"short\" # <-\n", "security.admin_token", null, "must be at least 16 characters"),
        ["admin_allow_forwarded not a boolean"] = new("[security]\nadmin_allow_forwarded = \"yes\" # <-\n", "security.admin_allow_forwarded", null, "expected a boolean"),
        ["coalesce_requests not a boolean"] = new("[performance]\ncoalesce_requests = 1 # <-\n", "performance.coalesce_requests", null, "expected a boolean"),
        ["log_level unknown"] = new("[observability]\nlog_level = \"verbose\" # <-\n", "observability.log_level", null, "unknown log level 'verbose' (expected one of trace, debug, info, warn, error)"),
        ["tracing endpoint invalid"] = new("[observability.tracing]\nendpoint = \"localhost:4317\" # <-\n", "observability.tracing.endpoint", null, "absolute http or https URL"),
    };

    public static TheoryData<string> RuleNames => [.. Rules.Keys];

    [Theory]
    [MemberData(nameof(RuleNames))]
    public void Each_rule_reports_one_error_with_key_backend_and_line(string rule)
    {
        var (toml, key, backend, message) = Rules[rule];

        var error = Assert.Single(Errors(toml));

        Assert.Equal(key, error.Key);
        Assert.Equal(backend, error.Backend);
        Assert.Equal(LineOf(toml, Marker), error.Line);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Several_errors_are_all_reported_in_line_order()
    {
        var toml = """
            [proxy]
            separator = "/"
            shutdown_timeout_seconds = -5

            [proxy.listen]
            port = 70000

            [[backends]]
            name = "files"
            transport = "carrier-pigeon"

            [backends.timeot]
            seconds = 5

            [[backends]]
            transport = "stdio"

            [[backends]]
            name = "remote"
            transport = "http"
            url = "${REMOTE_URL}"
            expose_tools = ["a"]
            hide_tools = ["b"]
            mirror_of = "nowhere"

            [auth]
            type = "jwt"

            [observability]
            log_level = "loud"
            """;

        var errors = Errors(toml);

        Assert.Collection(
            errors,
            e => Assert.Equal(("proxy.shutdown_timeout_seconds", (string?)null, 3), (e.Key, e.Backend, e.Line!.Value)),
            e => Assert.Equal(("proxy.listen.port", (string?)null, 6), (e.Key, e.Backend, e.Line!.Value)),
            e => Assert.Equal(("backends.transport", (string?)"files", 10), (e.Key, e.Backend, e.Line!.Value)),
            e => Assert.Equal(("backends.timeot", (string?)"files", 12), (e.Key, e.Backend, e.Line!.Value)),
            e => Assert.Equal(("backends.name", (string?)"#2", 15), (e.Key, e.Backend, e.Line!.Value)),
            e => Assert.Equal(("backends.command", (string?)"#2", 15), (e.Key, e.Backend, e.Line!.Value)),
            e => Assert.Equal(("backends.url", (string?)"remote", 21), (e.Key, e.Backend, e.Line!.Value)),
            e => Assert.Equal(("backends.hide_tools", (string?)"remote", 23), (e.Key, e.Backend, e.Line!.Value)),
            e => Assert.Equal(("backends.mirror_of", (string?)"remote", 24), (e.Key, e.Backend, e.Line!.Value)),
            e => Assert.Equal(("auth.issuer", (string?)null, 26), (e.Key, e.Backend, e.Line!.Value)),
            e => Assert.Equal(("auth.audience", (string?)null, 26), (e.Key, e.Backend, e.Line!.Value)),
            e => Assert.Equal(("auth.jwks_uri", (string?)null, 26), (e.Key, e.Backend, e.Line!.Value)),
            e => Assert.Equal(("observability.log_level", (string?)null, 30), (e.Key, e.Backend, e.Line!.Value)));
    }

    [Fact]
    public void Syntax_errors_are_reported_with_line_and_column()
    {
        var errors = Errors("[proxy]\nname = \"unterminated\n[[backends]\n");

        Assert.All(errors, e => Assert.Equal("", e.Key));
        Assert.Contains(errors, e => e.Line == 2 && e.Message.StartsWith("TOML syntax error at column", StringComparison.Ordinal));
    }
}
