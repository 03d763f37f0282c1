using System.Text.RegularExpressions;
using McpProxy.Configuration;
using Xunit;

namespace McpProxy.Tests.Configuration;

/// <summary>Helpers for the config tests: the reference file, an injected environment, error capture.</summary>
internal static partial class ConfigTestSupport
{
    public const string ReferenceFileName = "mcp-proxy.reference.toml";

    /// <summary>
    /// The repo's copy of the reference config: next to the test binaries (copied to output), else the source copy
    /// in McpProxy.Tests/Configuration.
    /// </summary>
    public static string ReferencePath { get; } = FindReference();

    public static string ReferenceText => File.ReadAllText(ReferencePath);

    /// <summary>An environment with nothing set.</summary>
    public static string? NoEnv(string name) => null;

    public static Func<string, string?> Env(params (string Name, string Value)[] vars)
    {
        var map = vars.ToDictionary(v => v.Name, v => v.Value, StringComparer.Ordinal);
        return name => map.GetValueOrDefault(name);
    }

    public static ProxyConfig Parse(string toml, Func<string, string?>? env = null) =>
        ConfigLoader.Parse(toml, "mcp-proxy.toml", env ?? NoEnv);

    /// <summary>Every error the loader reports for <paramref name="toml"/> (which must be invalid).</summary>
    public static IReadOnlyList<ConfigError> Errors(string toml, Func<string, string?>? env = null)
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(toml, "mcp-proxy.toml", env ?? NoEnv));
        Assert.NotEmpty(ex.Errors);
        return ex.Errors;
    }

    /// <summary>1-based line of the first line containing <paramref name="marker"/>.</summary>
    public static int LineOf(string text, string marker)
    {
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var index = Array.FindIndex(lines, l => l.Contains(marker, StringComparison.Ordinal));
        Assert.True(index >= 0, $"marker '{marker}' not found");
        return index + 1;
    }

    /// <summary>The shared reference (<c>/work/shared</c>-style folder next to the repo root), if present.</summary>
    public static string? FindSharedReference()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", ReferenceFileName);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>
    /// The reference config with every commented-out block uncommented, made valid where the blocks conflict:
    /// only the <paramref name="auth"/> auth block ("bearer" or "jwt"); only the <paramref name="filters"/> half
    /// ("expose" or "hide") of the mutually exclusive filter keys, moved up into the <c>files</c> backend (uncommented
    /// in place they would land in <c>[[backends.aliases]]</c>); <c>instructions</c> moved up into <c>[proxy]</c> (in
    /// place it would land in <c>[proxy.listen]</c>); and the mirror pointed at the <c>remote</c> backend (the
    /// reference's <c>"api"</c> names no backend).
    /// </summary>
    public static string Uncommented(string reference, string auth, string filters)
    {
        var lines = reference.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var result = new List<string>();
        var filterLines = new List<string>();
        string? authBlock = null;
        string? instructions = null;
        foreach (var line in lines)
        {
            if (line.StartsWith("# Bearer token auth:", StringComparison.Ordinal))
            {
                authBlock = "bearer";
            }
            else if (line.StartsWith("# JWT/JWKS auth", StringComparison.Ordinal))
            {
                authBlock = "jwt";
            }
            else if (line.StartsWith("# --- Performance", StringComparison.Ordinal))
            {
                authBlock = null;
            }

            if ((authBlock is not null && authBlock != auth) || !CommentedCode().IsMatch(line))
            {
                result.Add(line);
                continue;
            }

            var code = line[2..];
            if (code.StartsWith("expose_", StringComparison.Ordinal) || code.StartsWith("hide_", StringComparison.Ordinal))
            {
                if (code.StartsWith(filters + "_", StringComparison.Ordinal))
                {
                    filterLines.Add(code);
                }
            }
            else if (code.StartsWith("instructions = ", StringComparison.Ordinal))
            {
                instructions = code;
            }
            else
            {
                result.Add(code.Replace("mirror_of = \"api\"", "mirror_of = \"remote\"", StringComparison.Ordinal));
            }
        }

        Assert.NotNull(instructions);
        Assert.Equal(3, filterLines.Count);
        result.Insert(result.IndexOf("[proxy]") + 1, instructions);
        result.InsertRange(result.FindIndex(l => l.StartsWith("args = ", StringComparison.Ordinal)) + 1, filterLines);
        return string.Join('\n', result);
    }

    /// <summary>A commented-out TOML line: <c># [table]</c>, <c># [[array]]</c> or <c># key = value</c> (prose comments stay).</summary>
    [GeneratedRegex(@"^# (\[\[?[a-z_.]+\]\]?\s*$|[a-z_]+ = )")]
    private static partial Regex CommentedCode();

    private static string FindReference()
    {
        var output = Path.Combine(AppContext.BaseDirectory, "Configuration", ReferenceFileName);
        if (File.Exists(output))
        {
            return output;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var source = Path.Combine(dir.FullName, "McpProxy.Tests", "Configuration", ReferenceFileName);
            if (File.Exists(source))
            {
                return source;
            }
        }

        throw new InvalidOperationException($"{ReferenceFileName} not found next to the tests or in McpProxy.Tests/Configuration above {AppContext.BaseDirectory}");
    }
}
