using System.Text;

namespace McpProxy.Configuration;

/// <summary>
/// Expands environment references in config string values:
/// <list type="bullet">
/// <item><c>${VAR}</c>: the variable's value; an unset variable is an error (an empty one expands to "").</item>
/// <item><c>${VAR:-default}</c>: the default when the variable is unset or empty; the default is expanded itself
/// (it may hold <c>${OTHER}</c> references or <c>$${</c>).</item>
/// <item><c>$${</c>: a literal <c>${</c> (so <c>$${VAR}</c> becomes the text <c>${VAR}</c>).</item>
/// </list>
/// Any other <c>$</c> is kept as is. Variable names are <c>[A-Za-z_][A-Za-z0-9_]*</c>.
/// </summary>
internal static class EnvExpander
{
    /// <summary>Expands <paramref name="value"/>; returns null and adds to <paramref name="problems"/> when a reference is unset or malformed.</summary>
    public static string? Expand(string value, Func<string, string?> getEnv, ICollection<string> problems) =>
        Expand(value, getEnv, problems, out _);

    /// <inheritdoc cref="Expand(string, Func{string, string?}, ICollection{string})"/>
    /// <param name="value">The config text.</param>
    /// <param name="getEnv">Environment lookup.</param>
    /// <param name="problems">Where problems are added.</param>
    /// <param name="resolved">Whether a <c>${…}</c> reference was resolved (from the environment or its default): the
    /// result then may hold a secret and is never echoed in diagnostics or admin output.</param>
    public static string? Expand(string value, Func<string, string?> getEnv, ICollection<string> problems, out bool resolved)
    {
        resolved = false;
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(getEnv);
        ArgumentNullException.ThrowIfNull(problems);
        if (!value.Contains('$', StringComparison.Ordinal))
        {
            return value;
        }

        var before = problems.Count;
        var result = ExpandRange(value, 0, value.Length, getEnv, problems);
        resolved = HasReference(value);
        return problems.Count == before ? result : null;
    }

    private static string ExpandRange(string s, int start, int end, Func<string, string?> getEnv, ICollection<string> problems)
    {
        var sb = new StringBuilder(end - start);
        var i = start;
        while (i < end)
        {
            var c = s[i];
            if (c != '$')
            {
                sb.Append(c);
                i++;
                continue;
            }

            // $${ -> literal ${
            if (i + 2 < end && s[i + 1] == '$' && s[i + 2] == '{')
            {
                sb.Append("${");
                i += 3;
                continue;
            }

            if (i + 1 >= end || s[i + 1] != '{')
            {
                sb.Append(c);
                i++;
                continue;
            }

            var close = FindClose(s, i + 2, end);
            if (close < 0)
            {
                problems.Add($"unterminated '${{' in \"{s[start..end]}\" (write '$${{' for a literal '${{')");
                return sb.ToString();
            }

            var body = s[(i + 2)..close];
            var sep = body.IndexOf(":-", StringComparison.Ordinal);
            var name = sep < 0 ? body : body[..sep];
            if (!IsValidName(name))
            {
                problems.Add($"invalid environment reference '${{{body}}}' (expected ${{NAME}} or ${{NAME:-default}}; write '$${{' for a literal '${{')");
                i = close + 1;
                continue;
            }

            var env = getEnv(name);
            if (sep < 0)
            {
                if (env is null)
                {
                    problems.Add($"environment variable '{name}' is not set (write ${{{name}:-default}} to give a default)");
                }
                else
                {
                    sb.Append(env);
                }
            }
            else if (!string.IsNullOrEmpty(env))
            {
                sb.Append(env);
            }
            else
            {
                var defaultStart = i + 2 + sep + 2;
                sb.Append(ExpandRange(s, defaultStart, close, getEnv, problems));
            }

            i = close + 1;
        }

        return sb.ToString();
    }

    /// <summary>Whether the text holds a <c>${</c> reference (not the <c>$${</c> escape).</summary>
    private static bool HasReference(string s)
    {
        for (var i = 0; i + 1 < s.Length; i++)
        {
            if (s[i] == '$' && s[i + 1] == '$' && i + 2 < s.Length && s[i + 2] == '{')
            {
                i += 2;
            }
            else if (s[i] == '$' && s[i + 1] == '{')
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Index of the <c>}</c> closing a reference whose body starts at <paramref name="from"/>; nested <c>${…}</c> in defaults are skipped.</summary>
    private static int FindClose(string s, int from, int end)
    {
        var depth = 0;
        for (var j = from; j < end; j++)
        {
            if (s[j] == '$' && j + 2 < end && s[j + 1] == '$' && s[j + 2] == '{')
            {
                j += 2; // escaped $${: no nesting
            }
            else if (s[j] == '$' && j + 1 < end && s[j + 1] == '{')
            {
                depth++;
                j++;
            }
            else if (s[j] == '}')
            {
                if (depth == 0)
                {
                    return j;
                }

                depth--;
            }
        }

        return -1;
    }

    private static bool IsValidName(string name)
    {
        if (name.Length == 0 || char.IsAsciiDigit(name[0]))
        {
            return false;
        }

        foreach (var ch in name)
        {
            if (!char.IsAsciiLetterOrDigit(ch) && ch != '_')
            {
                return false;
            }
        }

        return true;
    }
}
