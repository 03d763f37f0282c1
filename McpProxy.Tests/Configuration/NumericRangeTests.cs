using McpProxy.Configuration;
using McpProxy.Resilience;
using Xunit;
using static McpProxy.Tests.Configuration.ConfigTestSupport;

namespace McpProxy.Tests.Configuration;

/// <summary>
/// Every numeric key is range-checked against what the libraries that consume it accept (Polly, the rate limiters,
/// timers, TimeSpan): a value past a bound is a config error with file, line, key and backend; every value inside the
/// bounds builds the backend's resilience pipeline.
/// </summary>
public sealed class NumericRangeTests
{
    private const string Marker = "# <-";

    private const string Files = """
        [[backends]]
        name = "files"
        transport = "stdio"
        command = "npx"

        """;

    private sealed record Case(string Toml, string Key, string? Backend, string Message);

    private static readonly Dictionary<string, Case> Cases = new()
    {
        ["timeout below Polly's 10 ms"] = new(Files + "[backends.timeout]\nseconds = 0.001 # <-\n", "backends.timeout.seconds", "files", "must be >= 0.01"),
        ["timeout above one day"] = new(Files + "[backends.timeout]\nseconds = 86401 # <-\n", "backends.timeout.seconds", "files", "must be <= 86400"),
        ["timeout that overflows TimeSpan"] = new(Files + "[backends.timeout]\nseconds = 1e300 # <-\n", "backends.timeout.seconds", "files", "must be <= 86400"),
        ["retry initial backoff above one day"] = new(Files + "[backends.retry]\ninitial_backoff_ms = 86400001 # <-\n", "backends.retry.initial_backoff_ms", "files", "must be <= 86400000"),
        ["retry max backoff above one day"] = new(Files + "[backends.retry]\nmax_backoff_ms = 2000000000 # <-\n", "backends.retry.max_backoff_ms", "files", "must be <= 86400000"),
        ["retry max_retries huge"] = new(Files + "[backends.retry]\nmax_retries = 2147483647 # <-\n", "backends.retry.max_retries", "files", "must be <= 100"),
        ["hedging delay above one day"] = new(Files + "[backends.hedging]\ndelay_ms = 86400001 # <-\n", "backends.hedging.delay_ms", "files", "must be <= 86400000"),
        ["hedging more than Polly's 10"] = new(Files + "[backends.hedging]\nmax_hedges = 11 # <-\n", "backends.hedging.max_hedges", "files", "must be <= 10"),
        ["rate limit window above one day"] = new(Files + "[backends.rate_limit]\nperiod_seconds = 5000000 # <-\n", "backends.rate_limit.period_seconds", "files", "must be <= 86400"),
        ["rate limit window below 1 ms"] = new(Files + "[backends.rate_limit]\nperiod_seconds = 0.00001 # <-\n", "backends.rate_limit.period_seconds", "files", "must be >= 0.001"),
        ["breaker wait above one day"] = new(Files + "[backends.circuit_breaker]\nwait_duration_seconds = 1e12 # <-\n", "backends.circuit_breaker.wait_duration_seconds", "files", "must be <= 86400"),
        ["breaker window above one day"] = new(Files + "[backends.circuit_breaker]\nwindow_seconds = 86400.5 # <-\n", "backends.circuit_breaker.window_seconds", "files", "must be <= 86400"),
        ["outlier interval above one day"] = new(Files + "[backends.outlier_detection]\ninterval_seconds = 1e20 # <-\n", "backends.outlier_detection.interval_seconds", "files", "must be <= 86400"),
        ["outlier ejection above one day"] = new(Files + "[backends.outlier_detection]\nbase_ejection_seconds = 100000 # <-\n", "backends.outlier_detection.base_ejection_seconds", "files", "must be <= 86400"),
        ["concurrency queue huge"] = new(Files + "[backends.concurrency]\nmax_queued = 2000000000 # <-\n", "backends.concurrency.max_queued", "files", "must be <= 1000000"),
        ["cache ttl above one year"] = new(Files + "[backends.cache]\ntool_ttl_seconds = 2000000000 # <-\n", "backends.cache.tool_ttl_seconds", "files", "must be <= 31536000"),
        ["shutdown timeout past CancelAfter"] = new("[proxy]\nshutdown_timeout_seconds = 2147483 # <-\n", "proxy.shutdown_timeout_seconds", null, "must be <= 86400"),
        ["argument size that overflows the body limit"] = new("[security]\nmax_argument_size = 9223372036854775807 # <-\n", "security.max_argument_size", null, "must be <= 2147483647"),
        ["request body above int range"] = new("[security]\nmax_request_body = 3000000000 # <-\n", "security.max_request_body", null, "must be <= 2147483647"),
    };

    public static TheoryData<string> CaseNames => [.. Cases.Keys];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void A_value_past_what_the_library_accepts_is_one_error_with_key_backend_and_line(string name)
    {
        var (toml, key, backend, message) = Cases[name];

        var error = Assert.Single(Errors(toml));

        Assert.Equal(key, error.Key);
        Assert.Equal(backend, error.Backend);
        Assert.Equal(LineOf(toml, Marker), error.Line);
        Assert.Contains(message, error.Message);
        Assert.Contains("mcp-proxy.toml:", error.ToString());
    }

    [Fact]
    public void Every_value_at_the_bounds_loads_and_builds_its_pipeline()
    {
        const string edges = """
            [proxy]
            shutdown_timeout_seconds = 86400
            [proxy.listen]
            port = 65535

            [security]
            max_argument_size = 2147483647
            max_request_body = 2147483647

            [[backends]]
            name = "high"
            transport = "stdio"
            command = "npx"
            [backends.timeout]
            seconds = 86400
            [backends.concurrency]
            max_concurrent = 2147483647
            max_queued = 1000000
            [backends.cache]
            resource_ttl_seconds = 31536000
            tool_ttl_seconds = 31536000
            [backends.circuit_breaker]
            wait_duration_seconds = 86400
            window_seconds = 86400
            minimum_calls = 2147483647
            [backends.rate_limit]
            requests = 2147483647
            period_seconds = 86400
            [backends.retry]
            max_retries = 100
            initial_backoff_ms = 86400000
            max_backoff_ms = 86400000
            [backends.hedging]
            delay_ms = 86400000
            max_hedges = 10
            [backends.outlier_detection]
            interval_seconds = 86400
            base_ejection_seconds = 86400

            [[backends]]
            name = "low"
            transport = "stdio"
            command = "npx"
            [backends.timeout]
            seconds = 0.01
            [backends.concurrency]
            max_concurrent = 1
            max_queued = 0
            [backends.circuit_breaker]
            wait_duration_seconds = 0
            window_seconds = 0.001
            [backends.rate_limit]
            requests = 1
            period_seconds = 0.001
            [backends.retry]
            max_retries = 1
            initial_backoff_ms = 0
            max_backoff_ms = 0
            [backends.hedging]
            delay_ms = 0
            max_hedges = 1
            [backends.outlier_detection]
            interval_seconds = 0.001
            base_ejection_seconds = 0.001
            """;

        var config = Parse(edges);

        Assert.Empty(PipelineDryRun.Run(config));
        Assert.Equal(65535, config.Proxy.Listen.Port);
    }

    [Fact]
    public void The_dry_run_reports_a_pipeline_the_library_refuses_with_the_backend_and_its_line()
    {
        // The reader refuses this timeout; a config built any other way (or a future key the reader does not bound)
        // still goes through the dry run, which builds the pipeline exactly as the running proxy does.
        var parsed = Parse(Files + "[backends.timeout]\nseconds = 5\n");
        var config = parsed with { Backends = [parsed.Backends[0] with { Timeout = new TimeoutConfig { Seconds = 0.001 } }] };

        var error = Assert.Single(PipelineDryRun.Run(config));

        Assert.Equal("files", error.Backend);
        Assert.Equal(1, error.Line);
        Assert.Contains("resilience pipeline cannot be built", error.Message);
        Assert.Contains("Timeout", error.Message);
        var thrown = Assert.Throws<ConfigException>(() => PipelineDryRun.ThrowIfInvalid(config));
        Assert.Equal(error.Message, Assert.Single(thrown.Errors).Message);
    }
}
