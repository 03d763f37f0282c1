using System.Text.Json.Nodes;
using McpProxy.Configuration;
using Xunit;
using static McpProxy.Tests.Configuration.ConfigTestSupport;

namespace McpProxy.Tests.Configuration;

/// <summary>The original crate's reference config: as shipped, and with every commented-out block enabled.</summary>
public sealed class ReferenceConfigTests
{
    private static readonly Func<string, string?> ReferenceEnv = Env(("GITHUB_TOKEN", "ghp_test"), ("BACKEND_TOKEN", "backend-secret"));

    [Fact]
    public void The_repo_copy_is_identical_to_the_shared_reference()
    {
        Assert.True(File.Exists(ReferencePath), ReferencePath);
        if (FindSharedReference() is not { } shared)
        {
            return; // the shared folder only exists next to the lead's checkout
        }

        Assert.Equal(File.ReadAllText(shared).ReplaceLineEndings(), ReferenceText.ReplaceLineEndings());
    }

    [Fact]
    public void The_reference_config_loads_with_the_expected_values()
    {
        var config = ConfigLoader.LoadFile(ReferencePath, ReferenceEnv);

        Assert.Equal(Path.GetFullPath(ReferencePath), config.SourcePath);
        Assert.Equal(Path.GetDirectoryName(Path.GetFullPath(ReferencePath)), config.BaseDirectory);

        Assert.Equal("my-proxy", config.Proxy.Name);
        Assert.Equal("0.1.0", config.Proxy.Version);
        Assert.Equal("/", config.Proxy.Separator);
        Assert.Equal(30, config.Proxy.ShutdownTimeoutSeconds);
        Assert.False(config.Proxy.HotReload);
        Assert.Null(config.Proxy.Instructions);
        Assert.Equal("127.0.0.1", config.Proxy.Listen.Host);
        Assert.Equal(8080, config.Proxy.Listen.Port);
        Assert.Equal("/mcp", config.Proxy.Listen.Path);

        Assert.Collection(
            config.Backends,
            files =>
            {
                Assert.Equal("files", files.Name);
                Assert.Equal(BackendTransport.Stdio, files.Transport);
                Assert.Equal("npx", files.Command);
                Assert.Equal(["-y", "@modelcontextprotocol/server-filesystem", "/tmp"], files.Args);
                Assert.Empty(files.Env);
                Assert.Equal(30, files.Timeout!.Seconds);
                Assert.Equal(10, files.Concurrency!.MaxConcurrent);
                Assert.Null(files.Cache);
                Assert.Empty(files.Aliases);
                Assert.Null(files.ExposeTools);
                Assert.Null(files.HideTools);
                Assert.Null(files.DefaultArgs);
                Assert.Empty(files.InjectArgs);
                Assert.Null(files.MirrorOf);
                Assert.Equal(100, files.MirrorPercent);
            },
            github =>
            {
                Assert.Equal("github", github.Name);
                Assert.Equal(BackendTransport.Stdio, github.Transport);
                Assert.Equal("npx", github.Command);
                Assert.Equal(["-y", "@modelcontextprotocol/server-github"], github.Args);
                Assert.Equal(60, github.Timeout!.Seconds);
                Assert.Equal("ghp_test", Assert.Single(github.Env, kv => kv.Key == "GITHUB_PERSONAL_ACCESS_TOKEN").Value);
                Assert.Equal(new CircuitBreakerConfig { FailureRateThreshold = 0.5, MinimumCalls = 5, WaitDurationSeconds = 30, PermittedCallsInHalfOpen = 3 }, github.CircuitBreaker);
                Assert.Equal(new RateLimitConfig { Requests = 30, PeriodSeconds = 1 }, github.RateLimit);
                Assert.Null(github.Retry);
                Assert.Null(github.Hedging);
                Assert.Null(github.OutlierDetection);
                Assert.Null(github.Concurrency);
            });

        Assert.Null(config.Auth);
        Assert.False(config.Performance.CoalesceRequests);
        Assert.Equal(1_048_576, config.Security.MaxArgumentSize);
        Assert.True(config.Observability.Audit);
        Assert.Equal("info", config.Observability.LogLevel);
        Assert.False(config.Observability.JsonLogs);
        Assert.True(config.Observability.Metrics.Enabled);
        Assert.Equal(new TracingConfig(), config.Observability.Tracing);
    }

    [Fact]
    public void The_reference_config_needs_GITHUB_TOKEN_and_says_where()
    {
        var text = ReferenceText;
        var error = Assert.Single(Errors(text));

        Assert.Equal("backends.env.GITHUB_PERSONAL_ACCESS_TOKEN", error.Key);
        Assert.Equal("github", error.Backend);
        Assert.Equal(LineOf(text, "GITHUB_PERSONAL_ACCESS_TOKEN ="), error.Line);
        Assert.Contains("'GITHUB_TOKEN'", error.Message);
    }

    [Theory]
    [InlineData("bearer", "expose")]
    [InlineData("bearer", "hide")]
    [InlineData("jwt", "expose")]
    [InlineData("jwt", "hide")]
    public void The_reference_config_with_every_block_uncommented_loads(string auth, string filters)
    {
        var toml = Uncommented(ReferenceText, auth, filters);
        var config = ConfigLoader.Parse(toml, "mcp-proxy.toml", ReferenceEnv);

        // [proxy]
        Assert.Equal(30, config.Proxy.ShutdownTimeoutSeconds);
        Assert.True(config.Proxy.HotReload);
        Assert.Equal("This proxy aggregates multiple MCP backends.", config.Proxy.Instructions);

        // files: cache, aliases, filters, default_args, inject_args
        var files = config.Backends[0];
        Assert.Equal(new CacheConfig { ResourceTtlSeconds = 300, ToolTtlSeconds = 60, MaxEntries = 1000 }, files.Cache);
        Assert.Equal([new AliasConfig("read_file", "read")], files.Aliases);
        if (filters == "expose")
        {
            Assert.Equal(["read_file", "list_directory", "search_files"], files.ExposeTools!);
            Assert.Equal(["file:///public"], files.ExposeResources!);
            Assert.Equal(["help"], files.ExposePrompts!);
            Assert.Null(files.HideTools);
        }
        else
        {
            Assert.Equal(["write_file", "delete_file"], files.HideTools!);
            Assert.Equal(["file:///etc/shadow"], files.HideResources!);
            Assert.Equal(["admin_prompt"], files.HidePrompts!);
            Assert.Null(files.ExposeTools);
        }

        Assert.True(JsonNode.DeepEquals(new JsonObject { ["timeout"] = 30 }, files.DefaultArgs));
        Assert.Collection(
            files.InjectArgs,
            query =>
            {
                Assert.Equal("query", query.Tool);
                Assert.True(JsonNode.DeepEquals(new JsonObject { ["read_only"] = true, ["max_rows"] = 1000 }, query.Args));
                Assert.False(query.Overwrite);
            },
            dangerous =>
            {
                Assert.Equal("dangerous_op", dangerous.Tool);
                Assert.True(JsonNode.DeepEquals(new JsonObject { ["dry_run"] = true }, dangerous.Args));
                Assert.True(dangerous.Overwrite);
            });

        // github: retry, hedging, outlier detection (the commented defaults)
        var github = config.Backends[1];
        Assert.Equal(new RetryConfig { MaxRetries = 3, InitialBackoffMs = 100, MaxBackoffMs = 5000, BudgetPercent = 20.0, MinRetriesPerSec = 10 }, github.Retry);
        Assert.Equal(new HedgingConfig { DelayMs = 200, MaxHedges = 1 }, github.Hedging);
        Assert.Equal(new OutlierDetectionConfig { ConsecutiveErrors = 5, IntervalSeconds = 10, BaseEjectionSeconds = 30, MaxEjectionPercent = 50 }, github.OutlierDetection);

        // remote (http) and the mirror
        var remote = config.Backends[2];
        Assert.Equal("remote", remote.Name);
        Assert.Equal(BackendTransport.Http, remote.Transport);
        Assert.Equal("http://mcp-server:8080", remote.Url);
        Assert.Equal("backend-secret", remote.BearerToken);
        Assert.True(remote.ForwardAuth);
        Assert.Equal(60, remote.Timeout!.Seconds);
        Assert.Null(remote.Command);

        var mirror = config.Backends[3];
        Assert.Equal("api-v2", mirror.Name);
        Assert.Equal(BackendTransport.Http, mirror.Transport);
        Assert.Equal("http://api-v2:8080", mirror.Url);
        Assert.Equal("remote", mirror.MirrorOf);
        Assert.Equal(10, mirror.MirrorPercent);
        Assert.Equal(4, config.Backends.Count);

        // auth
        var authConfig = Assert.IsType<AuthConfig>(config.Auth);
        if (auth == "bearer")
        {
            Assert.Equal(AuthType.Bearer, authConfig.Type);
            Assert.Equal(["my-secret-token"], authConfig.Tokens);
            Assert.Empty(authConfig.Roles);
            Assert.Null(authConfig.RoleMapping);
        }
        else
        {
            Assert.Equal(AuthType.Jwt, authConfig.Type);
            Assert.Equal("https://auth.example.com", authConfig.Issuer);
            Assert.Equal("mcp-proxy", authConfig.Audience);
            Assert.Equal("https://auth.example.com/.well-known/jwks.json", authConfig.JwksUri);
            Assert.Collection(
                authConfig.Roles,
                reader =>
                {
                    Assert.Equal("reader", reader.Name);
                    Assert.Equal(["files/read_file", "files/list_directory"], reader.AllowTools);
                    Assert.Empty(reader.DenyTools);
                },
                admin =>
                {
                    Assert.Equal("admin", admin.Name);
                    Assert.Empty(admin.AllowTools);
                });
            Assert.Equal("scope", authConfig.RoleMapping!.Claim);
            Assert.Equal("reader", authConfig.RoleMapping.Mapping["mcp:read"]);
            Assert.Equal("admin", authConfig.RoleMapping.Mapping["mcp:admin"]);
            Assert.Equal(2, authConfig.RoleMapping.Mapping.Count);
        }

        // performance, security, observability
        Assert.True(config.Performance.CoalesceRequests);
        Assert.Equal(1_048_576, config.Security.MaxArgumentSize);
        Assert.Equal(new TracingConfig { Enabled = true, Endpoint = "http://localhost:4317", ServiceName = "mcp-proxy" }, config.Observability.Tracing);
    }

    [Fact]
    public void Uncommenting_leaves_no_key_value_commented_out()
    {
        var toml = Uncommented(ReferenceText, "jwt", "expose");
        var stillCommented = toml.Split('\n')
            .Where(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^# (\[|[a-z_]+ = )"))
            .ToList();

        // Only the other auth block and the other half of the filter keys (moved, not in place) remain commented.
        Assert.All(stillCommented, l => Assert.Matches(@"^# (\[auth\]|type = ""bearer""|tokens = )", l));
    }
}
