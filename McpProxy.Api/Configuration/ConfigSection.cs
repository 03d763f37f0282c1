using System.Globalization;
using System.Text.Json.Nodes;

namespace McpProxy.Configuration;

/// <summary>Collects <see cref="ConfigError"/>s and expands <c>${VAR}</c> in string values.</summary>
internal sealed class ConfigErrors(Func<string, string?> getEnv, string? sourcePath)
{
    public Func<string, string?> GetEnv { get; } = getEnv;

    /// <summary>The config file's directory (relative paths in the config resolve against it); null without a file.</summary>
    public string? BaseDirectory { get; } = sourcePath is null ? null : Path.GetDirectoryName(sourcePath);

    public List<ConfigError> Errors { get; } = [];

    /// <summary>Valid, but probably not what the user meant (reported by <c>--check</c> and at startup; loading succeeds).</summary>
    public List<ConfigError> Warnings { get; } = [];

    /// <summary>The table each record was read from (by reference): validators report against its keys and lines.</summary>
    private readonly Dictionary<object, ConfigSection> _sections = new(ReferenceEqualityComparer.Instance);

    /// <summary>How many of <see cref="Errors"/> reading reported (the rest are validators'); -1 while reading.</summary>
    private int _readErrors = -1;

    /// <summary>Remembers the table a record was read from; returns the record.</summary>
    public T Track<T>(T record, ConfigSection section)
        where T : class
    {
        _sections[record] = section;
        return record;
    }

    /// <summary>The table a record was read from; null for a record the config did not spell out (defaults).</summary>
    public ConfigSection? SectionOf(object? record) => record is not null && _sections.TryGetValue(record, out var s) ? s : null;

    /// <summary>Reading is done: errors from here on are the validators'.</summary>
    public void EndReading() => _readErrors = Errors.Count;

    /// <summary>Reading reported a problem with the key (or an item of it): its value is not what the record holds.</summary>
    public bool FailedToRead(string fullKey, string? backend)
    {
        var count = _readErrors < 0 ? Errors.Count : _readErrors;
        for (var i = 0; i < count; i++)
        {
            var e = Errors[i];
            if (e.Backend == backend && (e.Key == fullKey
                || (e.Key.StartsWith(fullKey, StringComparison.Ordinal) && e.Key.Length > fullKey.Length && e.Key[fullKey.Length] is '[' or '.')))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Values that came from <c>${VAR}</c> expansion, in the order read, with the raw text they came from.</summary>
    public List<(string Expanded, string Raw)> Expanded { get; } = [];

    /// <summary>Adds an error; a value that came from <c>${VAR}</c> expansion is shown as its raw <c>${VAR}</c> text.</summary>
    public void Add(string key, string? backend, int? line, string message) =>
        Errors.Add(new ConfigError(key, backend, line, Mask(message)) { SourcePath = sourcePath });

    public void Warn(string key, string? backend, int? line, string message) =>
        Warnings.Add(new ConfigError(key, backend, line, Mask(message)) { SourcePath = sourcePath });

    /// <summary>Expands a string value; on failure reports every problem against the key and returns null.</summary>
    public string? Expand(string value, string key, string? backend, int line)
    {
        var problems = new List<string>();
        var expanded = EnvExpander.Expand(value, GetEnv, problems, out var resolved);
        foreach (var problem in problems)
        {
            Add(key, backend, line, problem);
        }

        if (resolved && expanded is { Length: > 0 } && expanded != value)
        {
            Expanded.Add((expanded, value));
        }

        return expanded;
    }

    /// <summary>
    /// The message with every expanded value replaced by the raw text it came from: quoted ('…' or "…") always, and
    /// anywhere when it is long enough not to collide with the message's own words.
    /// </summary>
    private string Mask(string message)
    {
        foreach (var (expanded, raw) in Expanded.OrderByDescending(e => e.Expanded.Length))
        {
            message = message
                .Replace($"'{expanded}'", $"'{raw}'", StringComparison.Ordinal)
                .Replace($"\"{expanded}\"", $"\"{raw}\"", StringComparison.Ordinal);
            if (expanded.Length >= 6)
            {
                message = message.Replace(expanded, raw, StringComparison.Ordinal);
            }
        }

        return message;
    }
}

/// <summary>
/// A TOML table read against a fixed set of keys: unknown keys are reported on construction, typed getters report
/// wrong types and out-of-range values (returning null) and expand <c>${VAR}</c> in every string.
/// </summary>
internal sealed class ConfigSection
{
    private readonly ConfigErrors _errors;

    public ConfigSection(ConfigErrors errors, TomlTableNode table, string path, string? backend, IReadOnlyCollection<string> allowedKeys)
    {
        _errors = errors;
        Table = table;
        Path = path;
        Backend = backend;
        foreach (var (key, node) in table.Entries)
        {
            if (!allowedKeys.Contains(key))
            {
                var hint = Closest(key, allowedKeys) is { } guess ? $" (did you mean '{guess}'?)" : "";
                errors.Add(KeyOf(key), backend, node.Line, $"unknown key '{key}'{hint}");
            }
        }
    }

    public TomlTableNode Table { get; }

    /// <summary>Dotted path of this table ("" for the root).</summary>
    public string Path { get; }

    /// <summary>Backend name (or <c>#N</c>) this table belongs to.</summary>
    public string? Backend { get; set; }

    /// <summary>1-based line of the table's header (or of its key, for inline tables).</summary>
    public int Line => Table.Line;

    public bool Has(string key) => Table.Entries.ContainsKey(key);

    /// <summary>The key is present and was read without a problem: the record holds its value.</summary>
    public bool Usable(string key) => Has(key) && !_errors.FailedToRead(KeyOf(key), Backend);

    public string KeyOf(string key) => Path.Length == 0 ? key : Path + "." + key;

    /// <summary>Line of a key, or of the table header when the key is absent.</summary>
    public int LineOf(string key) => Table.Entries.TryGetValue(key, out var node) ? node.Line : Table.Line;

    /// <summary>Reports a problem with <paramref name="key"/> (at its line, or the header's when it is missing).</summary>
    public void Error(string key, string message) => _errors.Add(KeyOf(key), Backend, LineOf(key), message);

    /// <summary>Reports a problem with <paramref name="key"/> (relative to this table) at a given line.</summary>
    public void ErrorAt(string key, int line, string message) => _errors.Add(KeyOf(key), Backend, line, message);

    /// <summary>Reports something valid but probably unintended about <paramref name="key"/> (at its line).</summary>
    public void Warn(string key, string message) => _errors.Warn(KeyOf(key), Backend, LineOf(key), message);

    /// <summary>Reports a problem with the table itself (at its header).</summary>
    public void TableError(string message) => _errors.Add(Path, Backend, Line, message);

    /// <summary>A required key is missing: reported at the table header.</summary>
    public void Missing(string key, string? detail = null) =>
        _errors.Add(KeyOf(key), Backend, Line, $"'{key}' is required{(detail is null ? "" : " " + detail)}");

    public string? String(string key)
    {
        if (!Table.Entries.TryGetValue(key, out var node))
        {
            return null;
        }

        return ExpandString(node, KeyOf(key), key);
    }

    public bool? Bool(string key)
    {
        if (!Table.Entries.TryGetValue(key, out var node))
        {
            return null;
        }

        if (node is TomlScalar { Value: bool b })
        {
            return b;
        }

        Error(key, $"expected a boolean (true or false), got {node.Describe()}");
        return null;
    }

    /// <summary>An integer that fits <see cref="int"/> and satisfies <paramref name="valid"/> (described as e.g. ">= 1").</summary>
    public int? Int(string key, Func<long, bool> valid, string rule)
    {
        var value = Long(key, valid, rule);
        if (value is null)
        {
            return null;
        }

        if (value is < int.MinValue or > int.MaxValue)
        {
            Error(key, $"must be {rule} (got {value.Value.ToString(CultureInfo.InvariantCulture)}, which is out of range)");
            return null;
        }

        return (int)value.Value;
    }

    public long? Long(string key, Func<long, bool> valid, string rule)
    {
        if (!Table.Entries.TryGetValue(key, out var node))
        {
            return null;
        }

        if (node is not TomlScalar { Value: long l })
        {
            Error(key, $"expected an integer, got {node.Describe()}");
            return null;
        }

        if (!valid(l))
        {
            Error(key, $"must be {rule} (got {l.ToString(CultureInfo.InvariantCulture)})");
            return null;
        }

        return l;
    }

    /// <summary>A finite number (integer or float) that satisfies <paramref name="valid"/>.</summary>
    public double? Number(string key, Func<double, bool> valid, string rule)
    {
        if (!Table.Entries.TryGetValue(key, out var node))
        {
            return null;
        }

        double d;
        switch (node)
        {
            case TomlScalar { Value: long l }:
                d = l;
                break;
            case TomlScalar { Value: double f }:
                d = f;
                break;
            default:
                Error(key, $"expected a number, got {node.Describe()}");
                return null;
        }

        if (!double.IsFinite(d) || !valid(d))
        {
            Error(key, $"must be {rule} (got {d.ToString("R", CultureInfo.InvariantCulture)})");
            return null;
        }

        return d;
    }

    /// <summary>An array of strings (each expanded); null when absent or invalid.</summary>
    public List<string>? StringList(string key)
    {
        if (!Table.Entries.TryGetValue(key, out var node))
        {
            return null;
        }

        if (node is not TomlArrayNode { IsTableArray: false } array)
        {
            Error(key, $"expected an array of strings, got {node.Describe()}");
            return null;
        }

        var result = new List<string>(array.Items.Count);
        var ok = true;
        for (var i = 0; i < array.Items.Count; i++)
        {
            var item = array.Items[i];
            var itemKey = $"{KeyOf(key)}[{i}]";
            if (item is not TomlScalar { Value: string, IsDateTime: false })
            {
                _errors.Add(itemKey, Backend, item.Line, $"expected a string, got {item.Describe()}");
                ok = false;
                continue;
            }

            var s = ExpandString(item, itemKey, null);
            if (s is null)
            {
                ok = false;
            }
            else
            {
                result.Add(s);
            }
        }

        return ok ? result : null;
    }

    /// <summary>A table of string values (keys are not expanded; numbers and booleans are accepted as their text).</summary>
    public Dictionary<string, string>? StringMap(string key)
    {
        if (!Table.Entries.TryGetValue(key, out var node))
        {
            return null;
        }

        if (node is not TomlTableNode table)
        {
            Error(key, $"expected a table, got {node.Describe()}");
            return null;
        }

        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var ok = true;
        foreach (var (name, value) in table.Entries)
        {
            var itemKey = $"{KeyOf(key)}.{name}";
            string? text = value switch
            {
                TomlScalar { Value: string, IsDateTime: false } => ExpandString(value, itemKey, null),
                TomlScalar { Value: long l } => l.ToString(CultureInfo.InvariantCulture),
                TomlScalar { Value: double d } => d.ToString("R", CultureInfo.InvariantCulture),
                TomlScalar { Value: bool b } => b ? "true" : "false",
                _ => null,
            };
            if (text is null)
            {
                if (value is not TomlScalar { Value: string, IsDateTime: false })
                {
                    _errors.Add(itemKey, Backend, value.Line, $"expected a string, got {value.Describe()}");
                }

                ok = false;
                continue;
            }

            result[name] = text;
        }

        return ok ? result : null;
    }

    /// <summary>Any TOML table as JSON (strings expanded; date-times become strings).</summary>
    public JsonObject? Json(string key)
    {
        if (!Table.Entries.TryGetValue(key, out var node))
        {
            return null;
        }

        if (node is not TomlTableNode table)
        {
            Error(key, $"expected a table, got {node.Describe()}");
            return null;
        }

        var ok = true;
        var json = ToJson(table, KeyOf(key), ref ok);
        return ok ? (JsonObject)json! : null;
    }

    /// <summary>A sub-table read against its own keys; null (after reporting) when absent or not a table.</summary>
    public ConfigSection? Section(string key, IReadOnlyCollection<string> allowedKeys)
    {
        if (!Table.Entries.TryGetValue(key, out var node))
        {
            return null;
        }

        if (node is not TomlTableNode table)
        {
            Error(key, $"expected a table, got {node.Describe()}");
            return null;
        }

        return new ConfigSection(_errors, table, KeyOf(key), Backend, allowedKeys);
    }

    /// <summary>An array of tables (<c>[[key]]</c> or an inline array of inline tables), each read against its keys.</summary>
    public List<ConfigSection> Sections(string key, IReadOnlyCollection<string> allowedKeys, Func<int, TomlNode, string?>? backendOf = null, bool indexKeys = true)
    {
        var result = new List<ConfigSection>();
        if (!Table.Entries.TryGetValue(key, out var node))
        {
            return result;
        }

        if (node is not TomlArrayNode array)
        {
            Error(key, $"expected an array of tables ([[{KeyOf(key)}]]), got {node.Describe()}");
            return result;
        }

        for (var i = 0; i < array.Items.Count; i++)
        {
            var item = array.Items[i];
            var itemKey = indexKeys ? $"{KeyOf(key)}[{i}]" : KeyOf(key);
            var backend = backendOf is null ? Backend : backendOf(i, item);
            if (item is not TomlTableNode table)
            {
                _errors.Add(itemKey, backend, item.Line, $"expected a table, got {item.Describe()}");
                continue;
            }

            result.Add(new ConfigSection(_errors, table, itemKey, backend, allowedKeys));
        }

        return result;
    }

    private string? ExpandString(TomlNode node, string fullKey, string? shortKey)
    {
        if (node is not TomlScalar { Value: string s, IsDateTime: false })
        {
            var message = $"expected a string, got {node.Describe()}";
            if (shortKey is not null)
            {
                Error(shortKey, message);
            }
            else
            {
                _errors.Add(fullKey, Backend, node.Line, message);
            }

            return null;
        }

        return _errors.Expand(s, fullKey, Backend, node.Line);
    }

    private JsonNode? ToJson(TomlNode node, string key, ref bool ok)
    {
        switch (node)
        {
            case TomlScalar { IsDateTime: true, Value: string dt }:
                return JsonValue.Create(dt);
            case TomlScalar { Value: string s }:
            {
                var expanded = _errors.Expand(s, key, Backend, node.Line);
                ok &= expanded is not null;
                return JsonValue.Create(expanded ?? s);
            }

            case TomlScalar { Value: long l }:
                return JsonValue.Create(l);
            case TomlScalar { Value: double d }:
                if (!double.IsFinite(d))
                {
                    _errors.Add(key, Backend, node.Line, $"{d.ToString(CultureInfo.InvariantCulture)} cannot be sent as JSON (use a finite number)");
                    ok = false;
                }

                return JsonValue.Create(double.IsFinite(d) ? d : 0);
            case TomlScalar { Value: bool b }:
                return JsonValue.Create(b);
            case TomlArrayNode array:
            {
                var result = new JsonArray();
                for (var i = 0; i < array.Items.Count; i++)
                {
                    result.Add(ToJson(array.Items[i], $"{key}[{i}]", ref ok));
                }

                return result;
            }

            case TomlTableNode table:
            {
                var result = new JsonObject();
                foreach (var (name, value) in table.Entries)
                {
                    result[name] = ToJson(value, $"{key}.{name}", ref ok);
                }

                return result;
            }

            default:
                return null;
        }
    }

    /// <summary>The allowed key closest to a typo (edit distance ≤ 2), if any.</summary>
    private static string? Closest(string key, IReadOnlyCollection<string> allowedKeys)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in allowedKeys)
        {
            var distance = Distance(key, candidate);
            if (distance < bestDistance)
            {
                bestDistance = distance;
                best = candidate;
            }
        }

        return bestDistance <= Math.Min(2, Math.Max(1, key.Length / 3)) ? best : null;
    }

    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = char.ToLowerInvariant(a[i - 1]) == char.ToLowerInvariant(b[j - 1]) ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
