using System.Text.Json.Nodes;
using McpProxy.Configuration;
using Xunit;
using static McpProxy.Tests.Configuration.ConfigTestSupport;

namespace McpProxy.Tests.Configuration;

/// <summary>Omitted keys take the documented defaults; TOML's equivalent spellings all map the same way.</summary>
public sealed class ConfigDefaultsTests
{
    [Theory]
    [InlineData("")]
    [InlineData("# only a comment\n")]
    [InlineData("[proxy]\n")]
    public void An_empty_config_is_a_proxy_with_no_backends_and_every_default(string toml)
    {
        var config = Parse(toml);

        Assert.Empty(config.Backends);
        Assert.Null(config.Auth);
        Assert.Equal(new ProxySection(), config.Proxy);
        Assert.Equal("mcp-proxy", config.Proxy.Name);
        Assert.Equal("0.1.0", config.Proxy.Version);
        Assert.Equal("/", config.Proxy.Separator);
        Assert.Equal(30, config.Proxy.ShutdownTimeoutSeconds);
        Assert.False(config.Proxy.HotReload);
        Assert.Null(config.Proxy.Instructions);
        Assert.Equal("127.0.0.1", config.Proxy.Listen.Host);
        Assert.Equal(8080, config.Proxy.Listen.Port);
        Assert.Equal("/mcp", config.Proxy.Listen.Path);
        Assert.Equal(1800, config.Proxy.Sessions.IdleTimeoutSeconds);
        Assert.Equal(10_000, config.Proxy.Sessions.MaxSessions);
        Assert.Equal(100, config.Proxy.Sessions.MaxSessionsPerCaller);
        Assert.False(config.Performance.CoalesceRequests);
        Assert.Equal(1_048_576, config.Security.MaxArgumentSize);
        Assert.Null(config.Security.MaxRequestBody);
        Assert.Equal(4L * 1024 * 1024, config.Security.EffectiveMaxRequestBody); // 2 × 1 MiB + 64 KiB is below the 4 MiB floor
        Assert.Empty(config.Security.AllowedOrigins);
        Assert.Null(config.Security.AllowedHosts); // loopback names when listening on loopback only, else any
        Assert.Null(config.Security.AdminToken);
        Assert.False(config.Security.AdminAllowForwarded); // the loopback-only admin rule refuses relayed requests
        Assert.Equal(16L * 1024 * 1024, config.Security.MaxResultSize);
        Assert.False(config.Observability.Audit);
        Assert.Equal("info", config.Observability.LogLevel);
        Assert.False(config.Observability.JsonLogs);
        Assert.False(config.Observability.Metrics.Enabled);
        Assert.False(config.Observability.Tracing.Enabled);
        Assert.Equal("http://localhost:4317", config.Observability.Tracing.Endpoint);
        Assert.Equal("mcp-proxy", config.Observability.Tracing.ServiceName);
    }

    [Fact]
    public void A_minimal_backend_gets_the_defaults()
    {
        var backend = Assert.Single(Parse("""
            [[backends]]
            name = "a"
            transport = "stdio"
            command = "x"
            """).Backends);

        Assert.Equal(BackendTransport.Stdio, backend.Transport);
        Assert.Empty(backend.Args);
        Assert.Empty(backend.Env);
        Assert.Null(backend.Cwd);
        Assert.False(backend.InheritEnv); // a minimal environment plus [backends.env]
        Assert.Null(backend.Url);
        Assert.Null(backend.BearerToken);
        Assert.False(backend.ForwardAuth);
        Assert.Null(backend.Timeout);
        Assert.Null(backend.Concurrency);
        Assert.Null(backend.Cache);
        Assert.Null(backend.CircuitBreaker);
        Assert.Null(backend.RateLimit);
        Assert.Null(backend.Retry);
        Assert.Null(backend.Hedging);
        Assert.Null(backend.OutlierDetection);
        Assert.Empty(backend.Aliases);
        Assert.Null(backend.ExposeTools);
        Assert.Null(backend.HideTools);
        Assert.Null(backend.ExposeResources);
        Assert.Null(backend.HideResources);
        Assert.Null(backend.ExposePrompts);
        Assert.Null(backend.HidePrompts);
        Assert.Null(backend.DefaultArgs);
        Assert.Empty(backend.InjectArgs);
        Assert.Null(backend.MirrorOf);
        Assert.Equal(100, backend.MirrorPercent);
    }

    [Fact]
    public void Empty_sub_tables_enable_the_feature_with_its_documented_defaults()
    {
        var backend = Assert.Single(Parse("""
            [[backends]]
            name = "a"
            transport = "stdio"
            command = "x"
            [backends.timeout]
            [backends.concurrency]
            [backends.cache]
            [backends.circuit_breaker]
            [backends.rate_limit]
            [backends.retry]
            [backends.hedging]
            [backends.outlier_detection]
            [[backends.inject_args]]
            tool = "t"
            """).Backends);

        Assert.Equal(30, backend.Timeout!.Seconds);
        Assert.Equal(10, backend.Concurrency!.MaxConcurrent);
        Assert.Equal(new CacheConfig { ResourceTtlSeconds = 0, ToolTtlSeconds = 0, MaxEntries = 1000 }, backend.Cache);
        Assert.Equal(new CircuitBreakerConfig { FailureRateThreshold = 0.5, MinimumCalls = 5, WaitDurationSeconds = 30, PermittedCallsInHalfOpen = 3 }, backend.CircuitBreaker);
        Assert.Equal(new RateLimitConfig { Requests = 100, PeriodSeconds = 1 }, backend.RateLimit);
        Assert.Equal(new RetryConfig { MaxRetries = 3, InitialBackoffMs = 100, MaxBackoffMs = 5000, BudgetPercent = 20, MinRetriesPerSec = 10 }, backend.Retry);
        Assert.Equal(new HedgingConfig { DelayMs = 200, MaxHedges = 1 }, backend.Hedging);
        Assert.Equal(new OutlierDetectionConfig { ConsecutiveErrors = 5, IntervalSeconds = 10, BaseEjectionSeconds = 30, MaxEjectionPercent = 50 }, backend.OutlierDetection);
        var inject = Assert.Single(backend.InjectArgs);
        Assert.Equal("t", inject.Tool);
        Assert.Empty(inject.Args);
        Assert.False(inject.Overwrite);
    }

    [Fact]
    public void Auth_and_observability_sub_tables_default_too()
    {
        var config = Parse("""
            [auth]
            type = "jwt"
            issuer = "https://issuer"
            audience = "aud"
            jwks_uri = "https://issuer/jwks"
            [[auth.roles]]
            name = "r"
            [auth.role_mapping]
            [observability.metrics]
            [observability.tracing]
            """);

        var role = Assert.Single(config.Auth!.Roles);
        Assert.Empty(role.AllowTools);
        Assert.Empty(role.DenyTools);
        Assert.Equal("scope", config.Auth.RoleMapping!.Claim);
        Assert.Empty(config.Auth.RoleMapping.Mapping);
        Assert.Empty(config.Auth.Tokens);
        Assert.Empty(config.Auth.AdminRoles); // only [security] admin_token opens the admin API
        Assert.Equal(["at+jwt", "JWT"], config.Auth.TokenTypes);
        Assert.False(config.Observability.Metrics.Enabled);
        Assert.Equal(new TracingConfig(), config.Observability.Tracing);
    }

    [Fact]
    public void Admin_roles_token_types_and_admin_allow_forwarded_map()
    {
        var config = Parse("""
            [auth]
            type = "jwt"
            issuer = "https://issuer"
            audience = "aud"
            jwks_uri = "https://issuer/jwks"
            admin_roles = ["ops", "root"]
            token_types = ["at+jwt"]
            [[auth.roles]]
            name = "ops"
            [[auth.roles]]
            name = "root"
            [security]
            admin_allow_forwarded = true
            """);

        Assert.Equal(["ops", "root"], config.Auth!.AdminRoles);
        Assert.Equal(["at+jwt"], config.Auth.TokenTypes);
        Assert.True(config.Security.AdminAllowForwarded);
    }

    [Fact]
    public void Extension_keys_listen_path_cwd_and_deny_tools_map()
    {
        var config = Parse("""
            [proxy.listen]
            path = "/api/mcp"

            [[backends]]
            name = "a"
            transport = "stdio"
            command = "x"
            cwd = "tools/a"

            [auth]
            type = "bearer"
            tokens = ["t"]
            [[auth.roles]]
            name = "limited"
            deny_tools = ["a/delete"]
            """);

        Assert.Equal("/api/mcp", config.Proxy.Listen.Path);
        Assert.Equal("tools/a", config.Backends[0].Cwd);
        Assert.Equal(["a/delete"], config.Auth!.Roles[0].DenyTools);
    }

    [Fact]
    public void Equivalent_toml_spellings_map_the_same()
    {
        var config = Parse("""
            proxy.listen.port = 9000
            backends = [
              { name = "a", transport = "stdio", command = "x", timeout.seconds = 2.5, aliases = [{ from = "f", to = "g" }] },
            ]
            """);

        Assert.Equal(9000, config.Proxy.Listen.Port);
        var backend = Assert.Single(config.Backends);
        Assert.Equal(2.5, backend.Timeout!.Seconds);
        Assert.Equal([new AliasConfig("f", "g")], backend.Aliases);
    }

    [Fact]
    public void Default_args_and_inject_args_take_any_toml_values_as_json()
    {
        var backend = Assert.Single(Parse("""
            [[backends]]
            name = "a"
            transport = "stdio"
            command = "x"
            [backends.default_args]
            int = 1
            float = 1.5
            bool = false
            text = "t"
            list = [1, "two", { three = 3 }]
            nested = { deep = { deeper = true } }
            when = 1979-05-27T07:32:00Z
            [[backends.inject_args]]
            tool = "q"
            overwrite = true
            [backends.inject_args.args]
            limit = 10
            """).Backends);

        var expected = JsonNode.Parse("""
            {"int":1,"float":1.5,"bool":false,"text":"t","list":[1,"two",{"three":3}],"nested":{"deep":{"deeper":true}},"when":"1979-05-27T07:32:00Z"}
            """);
        Assert.True(JsonNode.DeepEquals(expected, backend.DefaultArgs), backend.DefaultArgs!.ToJsonString());
        var inject = Assert.Single(backend.InjectArgs);
        Assert.True(JsonNode.DeepEquals(new JsonObject { ["limit"] = 10 }, inject.Args));
        Assert.True(inject.Overwrite);
    }

    [Fact]
    public void Case_insensitive_enums_and_integer_seconds_are_accepted()
    {
        var config = Parse("""
            [[backends]]
            name = "a"
            transport = "HTTP"
            url = "https://example.com/mcp"
            mirror_percent = 12.5
            [backends.timeout]
            seconds = 5
            [observability]
            log_level = "DEBUG"
            """);

        Assert.Equal(BackendTransport.Http, config.Backends[0].Transport);
        Assert.Equal(5, config.Backends[0].Timeout!.Seconds);
        Assert.Equal(12.5, config.Backends[0].MirrorPercent);
        Assert.Equal("debug", config.Observability.LogLevel);
    }

    [Fact]
    public void Env_values_may_be_numbers_or_booleans()
    {
        var backend = Assert.Single(Parse("""
            [[backends]]
            name = "a"
            transport = "stdio"
            command = "x"
            env = { PORT = 8080, DEBUG = true, RATIO = 0.5, NAME = "n" }
            """).Backends);

        Assert.Equal("8080", backend.Env["PORT"]);
        Assert.Equal("true", backend.Env["DEBUG"]);
        Assert.Equal("0.5", backend.Env["RATIO"]);
        Assert.Equal("n", backend.Env["NAME"]);
    }

    [Fact]
    public void An_empty_bearer_token_means_none()
    {
        var backend = Assert.Single(Parse("""
            [[backends]]
            name = "a"
            transport = "http"
            url = "http://localhost/mcp"
            bearer_token = "${TOKEN:-}"
            """).Backends);

        Assert.Null(backend.BearerToken);
    }

    [Fact]
    public void LoadFile_sets_the_source_path_and_base_directory()
    {
        var dir = Directory.CreateTempSubdirectory("mcp-proxy-config-");
        try
        {
            var path = Path.Combine(dir.FullName, "proxy.toml");
            File.WriteAllText(path, "[proxy]\nname = \"p\"\n");

            var config = ConfigLoader.LoadFile(path, NoEnv);

            Assert.Equal(path, config.SourcePath);
            Assert.Equal(dir.FullName, config.BaseDirectory);
            Assert.Equal("p", config.Proxy.Name);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void Parse_with_a_source_path_resolves_the_base_directory_from_it()
    {
        var path = Path.Combine(Path.GetTempPath(), "somewhere", "mcp-proxy.toml");
        var config = ConfigLoader.Parse("", path, NoEnv);

        Assert.Equal(path, config.SourcePath);
        Assert.Equal(Path.GetDirectoryName(path), config.BaseDirectory);
        Assert.Null(ConfigLoader.Parse("", null, NoEnv).SourcePath);
    }

    [Fact]
    public void LoadFile_of_a_missing_file_is_a_config_exception()
    {
        var path = Path.Combine(Path.GetTempPath(), "does-not-exist-" + Guid.NewGuid().ToString("N"), "mcp-proxy.toml");

        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.LoadFile(path, NoEnv));

        Assert.Equal(path, ex.SourcePath);
        Assert.Contains("cannot read", Assert.Single(ex.Errors).Message);
    }
}

public sealed class ResilienceConfigExtensionTests
{
    [Fact]
    public void Resilience_extension_keys_parse_with_their_defaults()
    {
        var config = ConfigTestSupport.Parse("""
            [[backends]]
            name = "a"
            transport = "stdio"
            command = "x"
            idempotent_tools = ["search_*"]
            non_idempotent_tools = ["add"]
            [backends.concurrency]
            max_concurrent = 2
            [backends.circuit_breaker]
            window_seconds = 5

            [[backends]]
            name = "b"
            transport = "stdio"
            command = "x"
            [backends.concurrency]
            max_queued = 0
            """);

        var a = config.Backends[0];
        Assert.Equal(["search_*"], a.IdempotentTools);
        Assert.Equal(["add"], a.NonIdempotentTools);
        Assert.Equal(100, a.Concurrency!.MaxQueued);
        Assert.Equal(5, a.CircuitBreaker!.WindowSeconds);
        Assert.Equal(0, config.Backends[1].Concurrency!.MaxQueued);
        Assert.Null(config.Backends[1].IdempotentTools);
        Assert.Equal(60, new McpProxy.Configuration.CircuitBreakerConfig().WindowSeconds);
    }

    [Fact]
    public void Names_and_legacy_sse_have_their_documented_defaults_and_map()
    {
        var defaults = Parse("");
        Assert.Equal(64, defaults.Proxy.Names.MaxLength);
        Assert.Equal(NameCharset.Any, defaults.Proxy.Names.Charset);
        Assert.False(defaults.Proxy.Listen.LegacySse);

        var set = Parse("[proxy.names]\nmax_length = 48\ncharset = \"mcp\"\n[proxy.listen]\nlegacy_sse = true\n");
        Assert.Equal(48, set.Proxy.Names.MaxLength);
        Assert.Equal(NameCharset.Mcp, set.Proxy.Names.Charset);
        Assert.True(set.Proxy.Listen.LegacySse);
    }
}
