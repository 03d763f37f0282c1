using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using McpProxy.Tests.Infrastructure;
using ModelContextProtocol.Client;

using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.CommandLine;

/// <summary>
/// The shipped <c>mcp-proxy.toml</c> starts clean as a real process: "All backends ready" with no error, no stack trace
/// and no warning carrying an exception (the HTTP sample is served by the stdio sample, so the proxy's first connect to it
/// races the child's start). Backends that ask for <c>roots/list</c> with no client call in flight get an empty list.
/// </summary>
public sealed partial class ShippedConfigTests
{
    private static CancellationToken Ct => TestContext.Timeout(120);

    [Fact]
    public async Task The_shipped_config_reaches_all_backends_ready_with_no_error_and_no_stack_trace()
    {
        // The shipped file, next to it (its relative paths resolve there), with the sample's fixed HTTP port moved to a
        // free one so parallel runs do not collide; the listen address comes from --urls.
        var samplePort = RedisServer.FreePort();
        var config = Path.Combine(TestPaths.RepoRoot, $".shipped-config-test-{Guid.NewGuid():N}.toml");
        await File.WriteAllTextAsync(config, (await File.ReadAllTextAsync(Path.Combine(TestPaths.RepoRoot, "mcp-proxy.toml"), Ct)).Replace("5101", samplePort.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal), Ct);
        var lines = new ConcurrentQueue<string>();
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var process = new Process
        {
            StartInfo = new ProcessStartInfo("dotnet", [ProxyDll, "--config", config, "--urls", "http://127.0.0.1:0"])
            {
                WorkingDirectory = TestPaths.RepoRoot,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                Environment = { ["Logging__Console__FormatterName"] = "simple", ["NO_COLOR"] = "1" },
            },
        };
        void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }

            lines.Enqueue(line);
            if (line.Contains("All 2 backends ready", StringComparison.Ordinal))
            {
                ready.TrySetResult();
            }

            // The proxy's own line (the stdio child's is relayed quoted, inside a longer line).
            if (ListeningOn().Match(line) is { Success: true } match && Uri.TryCreate(match.Groups[1].Value, UriKind.Absolute, out var uri))
            {
                listening.TrySetResult(uri);
            }
        }

        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        try
        {
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();

            await ready.Task.WaitAsync(Ct);
            var address = await listening.Task.WaitAsync(Ct);

            // It serves both transports of the sample.
            await using (var client = await McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions { Endpoint = new Uri(address, "/mcp") }), cancellationToken: Ct))
            {
                Assert.Equal("hi", Text(await client.CallToolAsync("sample__echo", Message("hi"), cancellationToken: Ct)));
                Assert.Equal("there", Text(await client.CallToolAsync("sample-http__say", Message("there"), cancellationToken: Ct)));
            }

            var log = lines.ToArray();
            var text = string.Join('\n', log);
            Assert.DoesNotContain(log, l => l.StartsWith("fail:", StringComparison.Ordinal) || l.StartsWith("crit:", StringComparison.Ordinal));
            Assert.DoesNotContain(log, l => l.StartsWith("   ", StringComparison.Ordinal) && l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
            Assert.DoesNotContain(log, l => l.Contains("Exception", StringComparison.Ordinal));
            Assert.True(log.Length > 0, text);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            File.Delete(config);
        }
    }

    /// <summary>The proxy as built by its own project (same configuration and target framework as the tests).</summary>
    private static string ProxyDll
    {
        get
        {
            var tfm = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            return Path.Combine(TestPaths.RepoRoot, "McpProxy.Api", "bin", tfm.Parent!.Name, tfm.Name, "McpProxy.Api.dll");
        }
    }

    [GeneratedRegex(@"^\s*Now listening on: (http://127\.0\.0\.1:\d+)\s*$")]
    private static partial Regex ListeningOn();
}
