using System.Text;

namespace McpProxy.Configuration;

/// <summary>
/// One problem found in <c>mcp-proxy.toml</c>.
/// </summary>
/// <param name="Key">
/// Dotted TOML path of the offending key, e.g. <c>backends.transport</c>, <c>backends.aliases[1].to</c>,
/// <c>auth.roles[0].name</c> (array indexes are 0-based). Empty for TOML syntax errors.
/// </param>
/// <param name="Backend">
/// The backend the key belongs to: its <c>name</c>, or <c>#N</c> (1-based position among the <c>[[backends]]</c>
/// entries) when it has no usable name. Null outside <c>[[backends]]</c>.
/// </param>
/// <param name="Line">1-based line of the offending key/value (or of the table header when a key is missing).</param>
/// <param name="Message">What is wrong.</param>
public sealed record ConfigError(string Key, string? Backend, int? Line, string Message)
{
    /// <summary>Path of the file the error was found in (null when parsed from a string without a source path).</summary>
    public string? SourcePath { get; init; }

    /// <summary>
    /// The key as shown to users: the backend name is spliced in after <c>backends</c>, e.g.
    /// <c>backends[files].transport</c>.
    /// </summary>
    public string DisplayKey =>
        Backend is not null && (Key == "backends" || Key.StartsWith("backends.", StringComparison.Ordinal) || Key.StartsWith("backends[", StringComparison.Ordinal))
            ? $"backends[{Backend}]{Key["backends".Length..]}"
            : Key;

    /// <summary>
    /// <c>mcp-proxy.toml:12: backends[files].transport: unknown transport 'foo' (expected "stdio" or "http")</c>,
    /// i.e. <c>file:line: key: message</c>. Without a file: <c>line 12: key: message</c>; parts that are unknown are left out.
    /// </summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        var file = SourcePath is null ? null : Path.GetFileName(SourcePath);
        if (file is not null)
        {
            sb.Append(file);
            if (Line is not null)
            {
                sb.Append(':').Append(Line.Value);
            }

            sb.Append(": ");
        }
        else if (Line is not null)
        {
            sb.Append("line ").Append(Line.Value).Append(": ");
        }

        var key = DisplayKey;
        if (key.Length > 0)
        {
            sb.Append(key).Append(": ");
        }

        return sb.Append(Message).ToString();
    }
}

/// <summary>Thrown by <see cref="ConfigLoader"/> with every problem found in the config (not just the first).</summary>
public sealed class ConfigException(IReadOnlyList<ConfigError> errors, string? sourcePath)
    : Exception(FormatMessage(errors))
{
    /// <summary>Every problem, in line order.</summary>
    public IReadOnlyList<ConfigError> Errors { get; } = errors;

    /// <summary>The config file (null when parsed from a string).</summary>
    public string? SourcePath { get; } = sourcePath;

    private static string FormatMessage(IReadOnlyList<ConfigError> errors) =>
        errors.Count == 0 ? "Invalid configuration." : string.Join(Environment.NewLine, errors);
}
