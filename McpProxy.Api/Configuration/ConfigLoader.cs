using Tomlyn;
using Tomlyn.Parsing;
using Tomlyn.Syntax;

namespace McpProxy.Configuration;

/// <summary>
/// Loads <c>mcp-proxy.toml</c>: parses it (Tomlyn syntax tree, so every value keeps its line), expands
/// <c>${VAR}</c> / <c>${VAR:-default}</c> / <c>$${</c> in every string value, maps snake_case keys onto
/// <see cref="ProxyConfig"/> and validates. Any problem — syntax, unknown key, wrong type, out-of-range value,
/// unset variable, inconsistent backend — is collected; <see cref="ConfigException"/> lists them all.
/// </summary>
public static class ConfigLoader
{
    /// <summary>Reads and loads a config file; sets <see cref="ProxyConfig.SourcePath"/> and <see cref="ProxyConfig.BaseDirectory"/>.</summary>
    /// <param name="path">The file (relative paths resolve against the current directory).</param>
    /// <param name="getEnv">Environment lookup for <c>${VAR}</c> (default: <see cref="Environment.GetEnvironmentVariable(string)"/>).</param>
    /// <param name="warnings">Receives what is valid but probably not meant (e.g. no backends, a command not on PATH).</param>
    /// <exception cref="ConfigException">The file cannot be read or is invalid.</exception>
    public static ProxyConfig LoadFile(string path, Func<string, string?>? getEnv = null, ICollection<ConfigError>? warnings = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var fullPath = Path.GetFullPath(path);
        string toml;
        try
        {
            toml = File.ReadAllText(fullPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException([new ConfigError("", null, null, $"cannot read the config file: {ex.Message}") { SourcePath = fullPath }], fullPath);
        }

        return Parse(toml, fullPath, getEnv, warnings);
    }

    /// <summary>Loads a config from TOML text.</summary>
    /// <param name="toml">The TOML text.</param>
    /// <param name="sourcePath">
    /// The file the text came from, for error messages; when given, <see cref="ProxyConfig.SourcePath"/> is its full
    /// path and <see cref="ProxyConfig.BaseDirectory"/> its directory.
    /// </param>
    /// <param name="getEnv">Environment lookup for <c>${VAR}</c> (default: <see cref="Environment.GetEnvironmentVariable(string)"/>).</param>
    /// <param name="warnings">Receives what is valid but probably not meant (e.g. no backends, a command not on PATH).</param>
    /// <exception cref="ConfigException">The config is invalid; lists every problem found.</exception>
    public static ProxyConfig Parse(string toml, string? sourcePath = null, Func<string, string?>? getEnv = null, ICollection<ConfigError>? warnings = null)
    {
        ArgumentNullException.ThrowIfNull(toml);
        var fullPath = sourcePath is null ? null : Path.GetFullPath(sourcePath);
        var errors = new ConfigErrors(getEnv ?? Environment.GetEnvironmentVariable, fullPath);

        DocumentSyntax doc;
        try
        {
            doc = SyntaxParser.Parse(toml, fullPath ?? "mcp-proxy.toml", validate: true);
        }
        catch (TomlException ex)
        {
            errors.Add("", null, null, "TOML syntax error: " + ex.Message);
            throw Fail(errors, fullPath);
        }

        if (doc.HasErrors)
        {
            foreach (var diagnostic in doc.Diagnostics)
            {
                if (diagnostic.Kind == DiagnosticMessageKind.Error)
                {
                    var start = diagnostic.Span.Start;
                    errors.Add("", null, start.Line + 1, $"TOML syntax error at column {start.Column + 1}: {diagnostic.Message}");
                }
            }

            throw Fail(errors, fullPath);
        }

        var config = new ConfigReader(errors).Read(TomlTreeBuilder.Build(doc));
        if (errors.Errors.Count > 0)
        {
            throw Fail(errors, fullPath);
        }

        foreach (var warning in errors.Warnings.OrderBy(e => e.Line ?? int.MaxValue))
        {
            warnings?.Add(warning);
        }

        return fullPath is null
            ? config
            : config with { SourcePath = fullPath, BaseDirectory = Path.GetDirectoryName(fullPath) ?? config.BaseDirectory };
    }

    private static ConfigException Fail(ConfigErrors errors, string? sourcePath) =>
        new([.. errors.Errors.OrderBy(e => e.Line ?? int.MaxValue)], sourcePath);
}
