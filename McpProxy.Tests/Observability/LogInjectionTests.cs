using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using McpProxy.Tests.Infrastructure;
using ModelContextProtocol.Client;
using Xunit;

using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Observability;

/// <summary>
/// Audit and log lines cannot be forged: a caller's <c>sub</c>, a tool name, an argument and a backend's stderr line
/// holding control characters reach the real proxy process's console escaped, in the plain format and in
/// <c>json_logs</c>.
/// </summary>
public sealed class LogInjectionTests : IDisposable
{
    private const string Forged = "\ninfo: McpProxy.Audit[1]\n      audit caller=root FAKE";
    private readonly string _dir = Directory.CreateTempSubdirectory("mcp-proxy-logs-").FullName;

    private static CancellationToken Ct => TestContext.Timeout(90);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Control_characters_in_every_logged_field_are_escaped_on_the_console(bool jsonLogs)
    {
        await using var issuer = await JwtIssuer.StartAsync();
        await using var backend = await SampleHttpHost.StartAsync();
        var port = FreePort();
        var path = Path.Combine(_dir, "logs.toml");
        // A stdio child that writes a carriage return, an escape sequence and a line separator to stderr, then waits.
        await File.WriteAllTextAsync(path, $$"""
            [proxy]
            name = "logs"
            shutdown_timeout_seconds = 5
            [proxy.listen]
            port = {{port}}
            [observability]
            json_logs = {{(jsonLogs ? "true" : "false")}}
            audit = true
            audit_arguments = true
            log_level = "debug"

            {{issuer.AuthToml()}}

            {{backend.Backend("b")}}

            [[backends]]
            name = "noisy"
            transport = "stdio"
            command = "sh"
            args = ["-c", "printf 'child says\\rFAKE-STDERR \\033[2K\\342\\200\\250FAKE-SEPARATOR\\n' >&2; sleep 60"]
            [backends.timeout]
            seconds = 5
            """, Ct);

        using var proxy = Start(path);
        await WaitForHealthAsync(new Uri($"http://127.0.0.1:{port}/health"));
        await using (var client = await McpClient.CreateAsync(
            new HttpClientTransport(new HttpClientTransportOptions
            {
                Endpoint = new Uri($"http://127.0.0.1:{port}/mcp"),
                AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = "Bearer " + issuer.Token(subject: "alice" + Forged + "-SUB") },
            }),
            cancellationToken: Ct))
        {
            Assert.Equal("hi" + Forged + "-ARG", Text(await client.CallToolAsync("b/echo", Message("hi" + Forged + "-ARG"), cancellationToken: Ct)));
            await Assert.ThrowsAnyAsync<Exception>(() => client.CallToolAsync("b/echo" + Forged + "-TOOL", Message("x"), cancellationToken: Ct).AsTask());
        }

        using (var kill = Process.Start("kill", ["-TERM", proxy.Process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync(Ct);
        }

        await proxy.Process.WaitForExitAsync(Ct);
        var stdout = await proxy.Stdout;

        // Each forged marker was logged (the audit event, the stderr line; an unknown tool is refused without an audit event) ...
        foreach (var marker in new[] { "FAKE-SUB", "FAKE-ARG", "FAKE-STDERR", "FAKE-SEPARATOR" })
        {
            Assert.Contains(marker, stdout, StringComparison.Ordinal);
        }

        // ... and never starts a line of its own or carries a raw control character.
        var lines = stdout.Split('\n');
        Assert.DoesNotContain(lines, l => l.TrimStart().StartsWith("info: McpProxy.Audit[1]", StringComparison.Ordinal) && l.Contains("FAKE", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.TrimStart().StartsWith("audit caller=root", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Any(c => c is '\r' or '\u001b' or '\u2028' or '\u2029'));
        if (jsonLogs)
        {
            // Every line is one JSON entry whose fields, decoded, hold the escapes rather than the characters (a stack
            // trace keeps its line breaks: it is the proxy's own text, inside one JSON string).
            var entries = lines.Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!).ToList();
            var audit = entries.Where(e => (string?)e["Category"] == "McpProxy.Audit").ToList();
            Assert.Contains(audit, e => ((string?)e["State"]!["Caller"])!.Contains("alice\\ninfo: McpProxy.Audit[1]\\n", StringComparison.Ordinal));
            foreach (var value in entries.SelectMany(e => Strings(e)))
            {
                Assert.DoesNotContain(value, c => c < ' ' || c is >= '\u007f' and <= '\u009f' or '\u2028' or '\u2029');
            }
        }
        else
        {
            Assert.Contains("caller=alice\\ninfo: McpProxy.Audit[1]\\n      audit caller=root FAKE-SUB", stdout, StringComparison.Ordinal);
            // (The SDK splits stderr at CR as well as LF, so what can still reach a line is ESC, C1 and U+2028/2029.)
            Assert.Contains("stderr: FAKE-STDERR \\u001b[2K\\u2028FAKE-SEPARATOR", stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Escape_covers_C0_DEL_C1_and_the_Unicode_separators_and_leaves_clean_text_alone()
    {
        Assert.Equal(
            "a\\nb\\rc\\td\\u001be\\u007ff\\u0085g\\u009bh\\u2028i\\u2029j\\u0000k",
            McpProxy.Observability.LogEscaping.Escape("a\nb\rc\td\u001be\u007ff\u0085g\u009bh\u2028i\u2029j\0k"));
        const string clean = "plain text, ünïcödé and C:\\path are kept";
        Assert.Same(clean, McpProxy.Observability.LogEscaping.Escape(clean));
    }

    private static IEnumerable<string> Strings(JsonNode? node) => node switch
    {
        JsonObject o => o.Where(p => p.Key != "Exception").SelectMany(p => Strings(p.Value)),
        JsonArray a => a.SelectMany(Strings),
        JsonValue v when v.TryGetValue<string>(out var s) => [s],
        _ => [],
    };

    private static async Task WaitForHealthAsync(Uri health)
    {
        using var http = new HttpClient();
        await WaitUntil(async () =>
        {
            try
            {
                return (await http.GetAsync(health, Ct)).IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        });
    }

    private static ProxyProcess Start(string configPath)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = TestPaths.RepoRoot };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "McpProxy.Api.dll"));
        psi.ArgumentList.Add("--config");
        psi.ArgumentList.Add(configPath);
        return new ProxyProcess(Process.Start(psi)!);
    }

    private sealed class ProxyProcess(Process process) : IDisposable
    {
        public Process Process { get; } = process;
        public Task<string> Stdout { get; } = process.StandardOutput.ReadToEndAsync();
        public Task<string> Stderr { get; } = process.StandardError.ReadToEndAsync();

        public void Dispose()
        {
            if (!Process.HasExited)
            {
                Process.Kill(entireProcessTree: true);
                Process.WaitForExit(10_000);
            }

            Process.Dispose();
        }
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
