using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using McpProxy.Configuration;
using McpProxy.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using Xunit;

using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Security;

/// <summary>
/// No secret in admin output, errors or config diagnostics: values from <c>${VAR}</c>, URL credentials and queries,
/// stdio args, env and injected argument values never reach <c>/admin/config</c>; a child's stderr and internal
/// host:port details never reach <c>/admin/backends</c> or an MCP client's error; <c>--check</c> quotes <c>${VAR}</c>.
/// </summary>
public sealed class SecretExposureTests : IDisposable
{
    private static readonly Dictionary<string, string> Secrets = new()
    {
        ["DOWN_PASS"] = "url-pass-secret-3141",
        ["URL_KEY"] = "url-query-secret-2718",
        ["ARG_SECRET"] = "stdio-arg-secret-1618",
        ["ENV_SECRET"] = "stdio-env-secret-1414",
        ["DEFAULT_SECRET"] = "default-arg-secret-1732",
        ["INJECT_SECRET"] = "inject-arg-secret-2236",
        ["INSTRUCTIONS_SECRET"] = "instructions-secret-2645",
    };

    private readonly string _dir = Directory.CreateTempSubdirectory("mcp-proxy-secrets-").FullName;

    private static CancellationToken Ct => TestContext.Timeout(60);

    [Fact]
    public async Task Admin_config_backends_and_client_errors_hold_no_secret_stderr_or_internal_address()
    {
        await using var good = await SampleHttpHost.StartAsync();
        var doomed = await SampleHttpHost.StartAsync();
        var closedPort = FreePort();
        var logs = new CapturingLoggerProvider();
        await using var proxy = await ProxyHost.StartAsync($$"""
            [proxy]
            name = "secrets"
            instructions = "${INSTRUCTIONS_SECRET}"
            [proxy.listen]
            port = 0

            {{good.Backend("good", """
                [backends.default_args]
                api_key = "${DEFAULT_SECRET}"
                [[backends.inject_args]]
                tool = "echo"
                args = { token = "${INJECT_SECRET}", literal = "inject-literal-secret-99" }
                """)}}
            {{doomed.Backend("doomed")}}
            [[backends]]
            name = "down"
            transport = "http"
            url = "http://proxy-user:${DOWN_PASS}@127.0.0.1:{{closedPort}}/mcp?key=${URL_KEY}"

            [[backends]]
            name = "literal"
            transport = "http"
            url = "http://admin:literal-pass-secret-77@127.0.0.1:{{closedPort}}/mcp?token=literal-query-secret-88"

            [[backends]]
            name = "crashy"
            transport = "stdio"
            command = "sh"
            args = ["-c", "echo CHILD-STDERR-${ARG_SECRET} >&2; exit 3", "literal-arg-secret-55"]
            [backends.env]
            TOKEN = "${ENV_SECRET}"
            """, Secrets.GetValueOrDefault, l => l.AddProvider(logs));
        using var http = new HttpClient { BaseAddress = proxy.BaseAddress };
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);

        // A backend that answered once and then went away: the call fails with a generic reason.
        Assert.Equal("up", Text(await client.CallToolAsync("doomed/echo", Message("up"), cancellationToken: Ct)));
        var doomedPort = doomed.McpEndpoint.Port;
        await doomed.DisposeAsync();
        var error = await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync("doomed/echo", Message("gone"), cancellationToken: Ct).AsTask());
        Assert.Contains("doomed", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain($":{doomedPort}", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("127.0.0.1", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("refused", error.Message, StringComparison.OrdinalIgnoreCase);

        // /admin/backends: a generic reason for each failed backend, no stderr, no address.
        await WaitUntil(async () =>
        {
            var b = await http.GetFromJsonAsync<JsonArray>("/admin/backends", Ct);
            return b!.Any(x => (string?)x!["name"] == "crashy" && LastError(x) is not null)
                && b!.Any(x => (string?)x!["name"] == "down" && LastError(x) is not null);
        });
        var backendsText = await http.GetStringAsync("/admin/backends", Ct);
        var backends = JsonNode.Parse(backendsText)!.AsArray().ToDictionary(b => (string)b!["name"]!, LastError);
        Assert.Equal("connection failed", backends["down"]);
        Assert.DoesNotContain("CHILD-STDERR", backendsText, StringComparison.Ordinal);
        Assert.DoesNotContain($":{closedPort}", backendsText, StringComparison.Ordinal);
        Assert.DoesNotContain("127.0.0.1", backendsText, StringComparison.Ordinal);
        using (var health = await http.GetAsync("/health", Ct))
        {
            var healthText = await health.Content.ReadAsStringAsync(Ct);
            Assert.DoesNotContain("CHILD-STDERR", healthText, StringComparison.Ordinal);
            Assert.DoesNotContain($":{closedPort}", healthText, StringComparison.Ordinal);
        }

        // The details stay in the log for the operator.
        Assert.Contains(logs.Entries, e => e.Message.Contains($"{closedPort}", StringComparison.Ordinal));

        // /admin/config: no secret at all, whatever key it sits under.
        var configText = await http.GetStringAsync("/admin/config", Ct);
        foreach (var secret in Secrets.Values.Concat(["literal-pass-secret-77", "literal-query-secret-88", "literal-arg-secret-55", "inject-literal-secret-99", "proxy-user"]))
        {
            Assert.DoesNotContain(secret, configText, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("CHILD-STDERR", configText, StringComparison.Ordinal);
        var config = JsonNode.Parse(configText)!;
        var byName = config["backends"]!.AsArray().ToDictionary(b => (string)b!["name"]!, b => b!);
        Assert.Equal("[redacted]", (string?)config["proxy"]!["instructions"]);
        Assert.Equal("[redacted]", (string?)byName["down"]["url"]);
        Assert.Equal($"http://[redacted]@127.0.0.1:{closedPort}/mcp?[redacted]", (string?)byName["literal"]["url"]);
        Assert.Equal(["[redacted]", "[redacted]", "[redacted]"], byName["crashy"]["args"]!.AsArray().Select(a => (string?)a));
        Assert.Equal("[redacted]", (string?)byName["crashy"]["env"]!["TOKEN"]);
        Assert.Equal("[redacted]", (string?)byName["good"]["default_args"]!["api_key"]);
        Assert.Equal("[redacted]", (string?)byName["good"]["inject_args"]![0]!["args"]!["literal"]);
        Assert.Equal("echo", (string?)byName["good"]["inject_args"]![0]!["tool"]);
        Assert.Equal("sh", (string?)byName["crashy"]["command"]);
    }

    [Fact]
    public void Config_errors_quote_the_raw_reference_never_the_expanded_value()
    {
        var env = new Dictionary<string, string>
        {
            ["BAD_URL"] = "not-a-url-secret-value-123",
            ["TRANSPORT"] = "carrier-secret-pigeon",
            ["BACKEND_NAME"] = "named-secret-456",
            ["ROLE"] = "role-secret-789",
        };
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Parse("""
            [auth]
            type = "bearer"
            tokens = ["t"]
            default_role = "${ROLE}"

            [[backends]]
            name = "${BACKEND_NAME}"
            transport = "http"
            url = "${BAD_URL}"

            [[backends]]
            name = "b"
            transport = "${TRANSPORT}"
            """, "mcp-proxy.toml", env.GetValueOrDefault));

        var text = string.Join("\n", ex.Errors.Select(e => e.ToString())) + ex.Message;
        foreach (var secret in env.Values)
        {
            Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
        }

        Assert.Contains("backends[${BACKEND_NAME}].url: must be an absolute http or https URL (got '${BAD_URL}')", text, StringComparison.Ordinal);
        Assert.Contains("unknown transport '${TRANSPORT}'", text, StringComparison.Ordinal);
        Assert.Contains("unknown role '${ROLE}'", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_output_never_echoes_an_expanded_value()
    {
        var path = Path.Combine(_dir, "secret.toml");
        await File.WriteAllTextAsync(path, """
            [proxy]
            name = "check"

            [[backends]]
            name = "remote"
            transport = "http"
            url = "${CHECK_URL}"
            bearer_token = "${CHECK_TOKEN}"

            [[backends]]
            name = "local"
            transport = "${CHECK_TRANSPORT}"
            """, Ct);

        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = TestPaths.RepoRoot };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "McpProxy.Api.dll"));
        psi.ArgumentList.Add("--check");
        psi.ArgumentList.Add("--config");
        psi.ArgumentList.Add(path);
        psi.Environment["CHECK_URL"] = "ftp://check-url-secret-4242";
        psi.Environment["CHECK_TOKEN"] = "check-token-secret-4343";
        psi.Environment["CHECK_TRANSPORT"] = "check-transport-secret-4444";
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync(Ct);
        var stderr = process.StandardError.ReadToEndAsync(Ct);
        await process.WaitForExitAsync(Ct);
        var output = await stdout + await stderr;

        Assert.Equal(1, process.ExitCode);
        Assert.Contains("(got '${CHECK_URL}')", output, StringComparison.Ordinal);
        Assert.Contains("unknown transport '${CHECK_TRANSPORT}'", output, StringComparison.Ordinal);
        Assert.DoesNotContain("secret-4", output, StringComparison.Ordinal);
    }

    private static string? LastError(JsonNode? backend) => (string?)backend!["last_error"] ?? (string?)backend["lastError"];

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
