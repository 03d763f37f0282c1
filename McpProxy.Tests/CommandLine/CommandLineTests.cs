using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using McpProxy.Tests.Infrastructure;
using ModelContextProtocol.Client;
using static McpProxy.Tests.Routing.AggregationTests;

namespace McpProxy.Tests.CommandLine;

/// <summary>The proxy as a user runs it: a real process, the shipped config, <c>--check</c>.</summary>
public sealed class CommandLineTests : IDisposable
{
    private static string ProxyDll => Path.Combine(AppContext.BaseDirectory, "McpProxy.Api.dll");
    private readonly string _dir = Directory.CreateTempSubdirectory("mcp-proxy-cli-").FullName;

    [Fact]
    public async Task Check_accepts_the_shipped_config()
    {
        var (code, stdout, stderr) = await RunAsync(["--check", "--config", Path.Combine(TestPaths.RepoRoot, "mcp-proxy.toml")]);
        Assert.True(code == 0, stderr);
        Assert.Contains("OK", stdout);
        Assert.Contains("sample [stdio]", stdout);
        Assert.Contains("sample-http [http]", stdout);
    }

    [Fact]
    public async Task Check_prints_the_name_rule_and_every_rewrite_config_determines()
    {
        var path = Path.Combine(_dir, "names.toml");
        await File.WriteAllTextAsync(path, """
            [proxy.names]
            charset = "mcp"

            [[backends]]
            name = "remote"
            transport = "http"
            url = "http://127.0.0.1:9/mcp"

            [[backends.aliases]]
            from = "read_file"
            to = "read"

            [[backends.aliases]]
            from = "search"
            to = "search files with a rather long alias that cannot fit in sixty-four"
            """);

        var (code, stdout, stderr) = await RunAsync(["--check", "--config", path]);

        Assert.True(code == 0, stderr);
        Assert.Contains("names: at most 64 characters from [A-Za-z0-9_.-]; namespaced as {backend}__{name}", stdout);
        Assert.Contains("tool 'remote/read' (alias of 'read_file') is exposed as 'remote__read'", stdout);
        Assert.Matches("tool 'remote/search files with a rather long alias that cannot fit in sixty-four' \\(alias of 'search'\\) is exposed as 'remote__search_files_with_a_rather_long_alias_that_cann_[0-9a-f]{8}'", stdout);
        Assert.Contains("GET /admin/names", stdout);
    }

    [Fact]
    public async Task Check_accepts_the_reference_config_of_the_original_crate()
    {
        var (code, _, stderr) = await RunAsync(
            ["--check", "--config", Path.Combine(AppContext.BaseDirectory, "Configuration", "mcp-proxy.reference.toml")],
            env: new() { ["GITHUB_TOKEN"] = "x" });
        Assert.True(code == 0, stderr);
    }

    [Fact]
    public async Task Check_lists_every_problem_with_key_backend_and_line_and_exits_non_zero()
    {
        var path = Path.Combine(_dir, "bad.toml");
        await File.WriteAllTextAsync(path, """
            [proxy]
            name = "bad"

            [[backends]]
            name = "a"
            transport = "carrier-pigeon"

            [[backends]]
            name = "b"
            transport = "http"
            expose_tools = ["x"]
            hide_tools = ["y"]
            url = "${UNSET_VARIABLE_FOR_TEST}"
            """);

        var (code, _, stderr) = await RunAsync(["--check", "--config", path]);

        Assert.Equal(1, code);
        Assert.Contains("bad.toml:6", stderr);
        Assert.Contains("transport", stderr);
        Assert.Contains("carrier-pigeon", stderr);
        Assert.Contains("hide_tools", stderr);
        Assert.Contains("UNSET_VARIABLE_FOR_TEST", stderr);
        Assert.Contains("bad.toml:13", stderr);
        Assert.Contains("'b'", stderr.Replace("[b]", "'b'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Check_prints_warnings_with_file_line_and_key_and_still_exits_zero()
    {
        var empty = Path.Combine(_dir, "empty.toml");
        await File.WriteAllTextAsync(empty, "[proxy]\nname = \"empty\"\n");
        var (code, stdout, stderr) = await RunAsync(["--check", "--config", empty]);
        Assert.True(code == 0, stderr);
        Assert.Contains("empty.toml: OK (no backends; 1 warning(s))", stdout);
        Assert.Contains("warning: empty.toml:", stderr);
        Assert.Contains("backends: no [[backends]] are configured", stderr);

        var missing = Path.Combine(_dir, "missing.toml");
        await File.WriteAllTextAsync(missing, "[[backends]]\nname = \"ghost\"\ntransport = \"stdio\"\ncommand = \"no-such-mcp-server-7f3a\"\n");
        (code, _, stderr) = await RunAsync(["--check", "--config", missing]);
        Assert.True(code == 0, stderr);
        Assert.Contains("warning: missing.toml:4: backends[ghost].command: 'no-such-mcp-server-7f3a' was not found on PATH", stderr);
    }

    [Fact]
    public async Task Check_rejects_auth_keys_of_the_other_type_and_plain_http_jwks_on_a_remote_host()
    {
        var path = Path.Combine(_dir, "auth.toml");
        await File.WriteAllTextAsync(path, """
            [auth]
            type = "jwt"
            issuer = "https://auth.example.com"
            audience = "mcp"
            jwks_uri = "http://auth.example.com/jwks"
            tokens = ["left-over"]
            """);

        var (code, _, stderr) = await RunAsync(["--check", "--config", path]);

        Assert.Equal(1, code);
        Assert.Contains("auth.toml:5: auth.jwks_uri: must use https", stderr);
        Assert.Contains("auth.toml:6: auth.tokens: 'tokens' is only used by bearer auth", stderr);
        Assert.DoesNotContain("left-over", stderr);
    }

    [Fact]
    public async Task A_value_the_resilience_library_refuses_is_reported_by_check_and_stops_startup_with_a_non_zero_exit()
    {
        var path = Path.Combine(_dir, "refused.toml");
        await File.WriteAllTextAsync(path, """
            [proxy]
            name = "refused"
            [proxy.listen]
            port = 0

            [[backends]]
            name = "fast"
            transport = "http"
            url = "http://127.0.0.1:9/mcp"
            [backends.timeout]
            seconds = 0.001
            """);

        var (code, _, stderr) = await RunAsync(["--check", "--config", path]);
        Assert.Equal(1, code);
        Assert.Contains("refused.toml:11: backends[fast].timeout.seconds: must be >= 0.01", stderr);

        // Started for real, it stops with the same error and a non-zero exit instead of failing inside the host.
        var (runCode, _, runStderr) = await RunAsync(["--config", path]);
        Assert.Equal(1, runCode);
        Assert.Contains("backends[fast].timeout.seconds", runStderr);
    }

    [Fact]
    public async Task A_failure_after_the_config_loads_is_one_fatal_line_and_exit_code_1()
    {
        // The port is taken: Kestrel cannot bind. The user sees one line that says why, not a stack trace, and a
        // supervisor sees a non-zero exit.
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var path = Path.Combine(_dir, "taken.toml");
        await File.WriteAllTextAsync(path, $"[proxy]\nname = \"taken\"\n[proxy.listen]\nport = {port}\n");

        var (code, _, stderr) = await RunAsync(["--config", path]);

        Assert.Equal(1, code);
        Assert.Contains("mcp-proxy: fatal:", stderr);
        Assert.Contains("address already in use", stderr, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public async Task A_missing_config_file_is_a_clear_error()
    {
        var (code, _, stderr) = await RunAsync(["--check", "--config", Path.Combine(_dir, "nope.toml")]);
        Assert.Equal(2, code);
        Assert.Contains("config file not found", stderr);
    }

    [Fact]
    public async Task Help_lists_every_option_the_config_default_and_the_exit_codes_and_starts_nothing()
    {
        foreach (var flag in new[] { "--help", "-h" })
        {
            var (code, stdout, stderr) = await RunAsync([flag], timeout: TimeSpan.FromSeconds(30));
            Assert.True(code == 0, stderr);
            foreach (var expected in new[]
            {
                "Usage:", "-c, --config <FILE>", "--check", "--urls <URLS>", "--environment <NAME>", "--version", "--help",
                "MCP_PROXY_CONFIG", "mcp-proxy.toml", "--Section:Key=value", "ASPNETCORE_URLS",
                "Exit codes:", "0  OK", "1  invalid config", "2  usage error",
            })
            {
                Assert.Contains(expected, stdout);
            }

            Assert.Equal("", stderr);
        }
    }

    [Fact]
    public async Task Version_prints_the_proxy_version()
    {
        var (code, stdout, stderr) = await RunAsync(["--version"], timeout: TimeSpan.FromSeconds(30));
        Assert.True(code == 0, stderr);
        var version = typeof(ProxyCommandLine).Assembly.GetName().Version!;
        Assert.StartsWith($"{version.Major}.{version.Minor}.{version.Build}", stdout.Trim());
        Assert.StartsWith("0.1.0", stdout.Trim());
    }

    [Theory]
    [InlineData("--chek", "--check")]
    [InlineData("--confg", "--config")]
    [InlineData("--url", "--urls")]
    public async Task A_mistyped_option_is_a_usage_error_with_a_suggestion_and_never_starts_the_proxy(string typo, string suggestion)
    {
        // A config that would start fine: the proxy must refuse the typo before it gets that far.
        var path = Path.Combine(_dir, "ok.toml");
        await File.WriteAllTextAsync(path, "[proxy.listen]\nport = 0\n");

        var (code, stdout, stderr) = await RunAsync(["--config", path, typo], timeout: TimeSpan.FromSeconds(30));

        Assert.Equal(2, code);
        Assert.Contains($"'{typo}'", stderr);
        Assert.Contains("Did you mean", stderr);
        Assert.Contains(suggestion, stderr.Split('\n').Select(l => l.Trim()));
        Assert.Contains("--help", stderr);
        Assert.DoesNotContain("listening", stdout, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_missing_option_value_is_a_usage_error()
    {
        var (code, _, stderr) = await RunAsync(["--config"], timeout: TimeSpan.FromSeconds(30));
        Assert.Equal(2, code);
        Assert.Contains("--config", stderr);
    }

    [Fact]
    public async Task The_config_path_defaults_to_MCP_PROXY_CONFIG_then_mcp_proxy_toml_in_the_current_directory()
    {
        var path = Path.Combine(_dir, "from-env.toml");
        await File.WriteAllTextAsync(path, "[proxy]\nname = \"env\"\n");
        var (code, stdout, stderr) = await RunAsync(["--check"], env: new() { ["MCP_PROXY_CONFIG"] = path });
        Assert.True(code == 0, stderr);
        Assert.Contains("from-env.toml: OK", stdout);

        // Without either, mcp-proxy.toml in the working directory (here: the repository root, which ships one).
        (code, stdout, stderr) = await RunAsync(["--check"], env: new() { ["MCP_PROXY_CONFIG"] = "" });
        Assert.True(code == 0, stderr);
        Assert.Contains("mcp-proxy.toml: OK", stdout);
    }

    [Fact]
    public async Task Urls_passes_through_to_ASP_NET_Core_and_overrides_proxy_listen()
    {
        var port = TestCalls.FreePort();
        var path = Path.Combine(_dir, "urls.toml");
        await File.WriteAllTextAsync(path, $"[proxy.listen]\nport = {TestCalls.FreePort()}\n");

        using var proxy = Start(["--config", path, "--urls", $"http://127.0.0.1:{port}"]);

        await WaitForHealthAsync(new Uri($"http://127.0.0.1:{port}/alive"));
    }

    [Fact]
    public async Task A_configuration_key_passes_through_to_ASP_NET_Core_in_both_forms()
    {
        var path = Path.Combine(_dir, "kestrel.toml");
        await File.WriteAllTextAsync(path, $"[proxy.listen]\nport = {TestCalls.FreePort()}\n");

        // Kestrel's own endpoint configuration wins over the addresses the proxy sets: the key reached the host.
        var port = TestCalls.FreePort();
        using (var proxy = Start(["--config", path, $"--Kestrel:Endpoints:Http:Url=http://127.0.0.1:{port}"]))
        {
            await WaitForHealthAsync(new Uri($"http://127.0.0.1:{port}/alive"));
        }

        port = TestCalls.FreePort();
        using (var proxy = Start(["--config", path, "--Kestrel:Endpoints:Http:Url", $"http://127.0.0.1:{port}"]))
        {
            await WaitForHealthAsync(new Uri($"http://127.0.0.1:{port}/alive"));
        }
    }

    [Fact]
    public async Task The_proxy_process_serves_the_shipped_config_end_to_end()
    {
        var port = TestCalls.FreePort();
        var samplePort = TestCalls.FreePort();
        // The shipped file, with ports moved so parallel runs never collide.
        var config = (await File.ReadAllTextAsync(Path.Combine(TestPaths.RepoRoot, "mcp-proxy.toml")))
            .Replace("port = 8080", $"port = {port}", StringComparison.Ordinal)
            .Replace("127.0.0.1:5101", $"127.0.0.1:{samplePort}", StringComparison.Ordinal);
        var path = Path.Combine(TestPaths.RepoRoot, $".test-shipped-{port}.toml");
        await File.WriteAllTextAsync(path, config);
        try
        {
            using var proxy = Start(["--config", path]);
            var endpoint = new Uri($"http://127.0.0.1:{port}/mcp");
            await WaitForHealthAsync(new Uri($"http://127.0.0.1:{port}/health"));

            await using var client = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions { Endpoint = endpoint }));
            IList<McpClientTool> tools = [];
            for (var i = 0; i < 100 && !tools.Any(t => t.Name.StartsWith("sample-http__", StringComparison.Ordinal)); i++)
            {
                tools = await client.ListToolsAsync();
                await Task.Delay(100);
            }

            Assert.Contains(tools, t => t.Name == "sample__echo");
            Assert.Contains(tools, t => t.Name == "sample-http__say");
            Assert.Equal("hi", Text(await client.CallToolAsync("sample-http__say", new Dictionary<string, object?> { ["message"] = "hi" })));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Json_logs_and_audit_on_stdout_and_SIGTERM_drains_the_call_in_flight_then_exits_cleanly()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        var port = TestCalls.FreePort();
        var path = Path.Combine(_dir, "json.toml");
        await File.WriteAllTextAsync(path, $"""
            [proxy]
            name = "json"
            shutdown_timeout_seconds = 10
            [proxy.listen]
            port = {port}
            [observability]
            json_logs = true
            audit = true

            {backend.Backend("b")}
            """);

        using var proxy = Start(["--config", path]);
        await WaitForHealthAsync(new Uri($"http://127.0.0.1:{port}/health"));
        await using (var client = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions { Endpoint = new Uri($"http://127.0.0.1:{port}/mcp") })))
        {
            Assert.Equal("hi", Text(await client.CallToolAsync("b/echo", new Dictionary<string, object?> { ["message"] = "hi" })));

            // SIGTERM while a call is in flight: the call completes, then the process exits with 0.
            var inFlight = client.CallToolAsync("b/sleep", new Dictionary<string, object?> { ["ms"] = 1500 }).AsTask();
            await TestCalls.WaitUntil(() => backend.ToolCalls == 2); // the sleep has reached the backend
            using (var kill = Process.Start("kill", ["-TERM", proxy.Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            Assert.Equal("slept", Text(await inFlight));
        }

        using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await proxy.Process.WaitForExitAsync(exit.Token);
        Assert.Equal(0, proxy.Process.ExitCode);

        // Every stdout line is one JSON object; the audit event is among them with its structured fields.
        var lines = (await proxy.Stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(lines);
        var entries = lines.Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!).ToList();
        var audit = Assert.Single(entries, e => (string?)e["Category"] == "McpProxy.Audit" && (string?)e["State"]!["Item"] == "b/echo");
        Assert.Equal("ok", (string?)audit["State"]!["Outcome"]);
        Assert.Contains(entries, e => ((string?)e["Message"])?.Contains("draining", StringComparison.Ordinal) == true);
    }

    [Fact]
    public async Task Json_log_lines_carry_a_timestamp_and_health_probes_are_not_logged_at_information()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        var port = TestCalls.FreePort();
        var path = Path.Combine(_dir, "probes.toml");
        await File.WriteAllTextAsync(path, $"""
            [proxy.listen]
            port = {port}
            [observability]
            json_logs = true

            {backend.Backend("b")}
            """);

        var before = DateTimeOffset.UtcNow.AddMinutes(-1);
        using var proxy = Start(["--config", path]);
        await WaitForHealthAsync(new Uri($"http://127.0.0.1:{port}/health"));
        using (var http = new HttpClient())
        {
            for (var i = 0; i < 3; i++)
            {
                (await http.GetAsync(new Uri($"http://127.0.0.1:{port}/health"))).EnsureSuccessStatusCode();
                (await http.GetAsync(new Uri($"http://127.0.0.1:{port}/alive"))).EnsureSuccessStatusCode();
            }
        }

        await using (var client = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions { Endpoint = new Uri($"http://127.0.0.1:{port}/mcp") })))
        {
            Assert.Equal("hi", Text(await client.CallToolAsync("b/echo", new Dictionary<string, object?> { ["message"] = "hi" })));
        }

        using (var kill = Process.Start("kill", ["-TERM", proxy.Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await proxy.Process.WaitForExitAsync(exit.Token);
        var entries = (await proxy.Stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!).ToList();

        // Every line has its time, in ISO 8601, UTC ("2026-01-31T12:00:00.123Z").
        Assert.All(entries, e =>
        {
            var timestamp = (string?)e["Timestamp"];
            Assert.False(string.IsNullOrEmpty(timestamp), e.ToJsonString());
            Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$", timestamp);
            var parsed = DateTimeOffset.Parse(timestamp!, System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(TimeSpan.Zero, parsed.Offset);
            Assert.InRange(parsed, before, DateTimeOffset.UtcNow.AddMinutes(1));
        });

        // Requests are logged at Information (the MCP call is there)...
        static string? PathOf(System.Text.Json.Nodes.JsonNode e) => (string?)e["State"]?["Path"];
        Assert.Contains(entries, e => (string?)e["Category"] == "Microsoft.AspNetCore.Hosting.Diagnostics" && PathOf(e) == "/mcp");
        // ...the probes are not: no line of theirs at Information, in any category.
        var probeLines = entries.Where(e => (string?)e["LogLevel"] == "Information"
            && (PathOf(e) is "/health" or "/alive" || ((string?)e["Message"])?.Contains("Health checks", StringComparison.Ordinal) == true)).ToList();
        Assert.True(probeLines.Count == 0, string.Join("\n", probeLines.Select(e => e.ToJsonString())));
    }

    private static async Task WaitForHealthAsync(Uri health)
    {
        using var http = new HttpClient();
        for (var i = 0; i < 300; i++)
        {
            try
            {
                if ((await http.GetAsync(health)).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(200);
        }

        Assert.Fail("proxy never became healthy");
    }

    private static RunningProcess Start(string[] args, Dictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = TestPaths.RepoRoot };
        psi.ArgumentList.Add(ProxyDll);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var (k, v) in env ?? [])
        {
            psi.Environment[k] = v;
        }

        return new RunningProcess(Process.Start(psi)!);
    }

    private static async Task<(int Code, string Stdout, string Stderr)> RunAsync(string[] args, Dictionary<string, string>? env = null, TimeSpan? timeout = null)
    {
        using var handle = Start(args, env);
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        await handle.Process.WaitForExitAsync(cts.Token);
        return (handle.Process.ExitCode, await handle.Stdout, await handle.Stderr);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
