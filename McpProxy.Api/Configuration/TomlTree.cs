using System.Globalization;
using Tomlyn.Syntax;

namespace McpProxy.Configuration;

/// <summary>A TOML value with the 1-based line it was written on (the key's line for key/values, the header's for tables).</summary>
internal abstract class TomlNode(int line)
{
    public int Line { get; set; } = line;

    /// <summary>"a string", "an integer", … for error messages.</summary>
    public abstract string Describe();
}

internal sealed class TomlScalar(int line, object value) : TomlNode(line)
{
    /// <summary><see cref="string"/>, <see cref="long"/>, <see cref="double"/>, <see cref="bool"/> or, for date-times, their TOML text.</summary>
    public object Value { get; } = value;

    public bool IsDateTime { get; init; }

    public override string Describe() => Value switch
    {
        string s when IsDateTime => $"a date-time ({s})",
        string s => $"a string (\"{(s.Length > 40 ? s[..40] + "…" : s)}\")",
        long l => $"an integer ({l.ToString(CultureInfo.InvariantCulture)})",
        double d => $"a float ({FormatFloat(d)})",
        bool b => b ? "a boolean (true)" : "a boolean (false)",
        _ => "a value",
    };

    private static string FormatFloat(double d)
    {
        var text = d.ToString("R", CultureInfo.InvariantCulture);
        return double.IsFinite(d) && !text.Contains('.', StringComparison.Ordinal) && !text.Contains('E', StringComparison.Ordinal) ? text + ".0" : text;
    }
}

internal sealed class TomlArrayNode(int line) : TomlNode(line)
{
    public List<TomlNode> Items { get; } = [];

    /// <summary>Declared with <c>[[name]]</c> headers.</summary>
    public bool IsTableArray { get; init; }

    public override string Describe() => IsTableArray ? "an array of tables" : "an array";
}

internal sealed class TomlTableNode(int line) : TomlNode(line)
{
    /// <summary>Entries in document order.</summary>
    public OrderedDictionary<string, TomlNode> Entries { get; } = new(StringComparer.Ordinal);

    public override string Describe() => "a table";
}

/// <summary>Builds a <see cref="TomlTableNode"/> tree (with line numbers) from Tomlyn's syntax tree.</summary>
internal static class TomlTreeBuilder
{
    /// <summary>Converts a document that parsed without errors.</summary>
    public static TomlTableNode Build(DocumentSyntax doc)
    {
        var root = new TomlTableNode(1);
        foreach (var kv in doc.KeyValues)
        {
            AddKeyValue(root, kv);
        }

        foreach (var table in doc.Tables)
        {
            var line = LineOf(table);
            var path = KeyPath(table.Name);
            if (path.Count == 0)
            {
                continue;
            }

            var current = root;
            for (var i = 0; i < path.Count - 1; i++)
            {
                current = Descend(current, path[i], line);
            }

            var last = path[^1];
            TomlTableNode target;
            if (table is TableArraySyntax)
            {
                if (!current.Entries.TryGetValue(last, out var existing) || existing is not TomlArrayNode array)
                {
                    array = new TomlArrayNode(line) { IsTableArray = true };
                    current.Entries[last] = array;
                }

                target = new TomlTableNode(line);
                array.Items.Add(target);
            }
            else if (current.Entries.TryGetValue(last, out var existing) && existing is TomlTableNode implicitTable)
            {
                // Created implicitly by an earlier [a.b.c] header: the explicit header now defines it.
                implicitTable.Line = line;
                target = implicitTable;
            }
            else
            {
                target = new TomlTableNode(line);
                current.Entries[last] = target;
            }

            foreach (var kv in table.Items)
            {
                AddKeyValue(target, kv);
            }
        }

        return root;
    }

    /// <summary>1-based line of a syntax node.</summary>
    public static int LineOf(SyntaxNodeBase node) => node.Span.Start.Line + 1;

    private static TomlTableNode Descend(TomlTableNode table, string key, int line)
    {
        if (table.Entries.TryGetValue(key, out var node))
        {
            switch (node)
            {
                case TomlTableNode t:
                    return t;
                case TomlArrayNode { Items.Count: > 0 } a when a.Items[^1] is TomlTableNode last:
                    return last;
            }
        }

        // Missing (or, in a document Tomlyn validated, unreachable conflicts): an implicit table.
        var created = new TomlTableNode(line);
        table.Entries[key] = created;
        return created;
    }

    private static void AddKeyValue(TomlTableNode table, KeyValueSyntax kv)
    {
        var line = LineOf(kv);
        var path = KeyPath(kv.Key);
        if (path.Count == 0 || kv.Value is null)
        {
            return;
        }

        var current = table;
        for (var i = 0; i < path.Count - 1; i++)
        {
            current = Descend(current, path[i], line);
        }

        current.Entries[path[^1]] = Convert(kv.Value, line);
    }

    private static TomlNode Convert(ValueSyntax value, int line)
    {
        switch (value)
        {
            case StringValueSyntax s:
                return new TomlScalar(line, s.Value ?? "");
            case IntegerValueSyntax i:
                return new TomlScalar(line, i.Value);
            case FloatValueSyntax f:
                return new TomlScalar(line, f.Value);
            case BooleanValueSyntax b:
                return new TomlScalar(line, b.Value);
            case DateTimeValueSyntax d:
                return new TomlScalar(line, d.Value.ToString() ?? "") { IsDateTime = true };
            case ArraySyntax a:
            {
                var array = new TomlArrayNode(line);
                foreach (var item in a.Items)
                {
                    if (item.Value is not null)
                    {
                        array.Items.Add(Convert(item.Value, LineOf(item.Value)));
                    }
                }

                return array;
            }

            case InlineTableSyntax t:
            {
                var table = new TomlTableNode(line);
                foreach (var item in t.Items)
                {
                    if (item.KeyValue is not null)
                    {
                        AddKeyValue(table, item.KeyValue);
                    }
                }

                return table;
            }

            default:
                return new TomlScalar(line, value.ToString() ?? "");
        }
    }

    private static List<string> KeyPath(KeySyntax? key)
    {
        var path = new List<string>();
        if (key is null)
        {
            return path;
        }

        AddPart(path, key.Key);
        foreach (var dotted in key.DotKeys)
        {
            AddPart(path, dotted.Key);
        }

        return path;
    }

    private static void AddPart(List<string> path, BareKeyOrStringValueSyntax? part)
    {
        switch (part)
        {
            case BareKeySyntax bare:
                path.Add(bare.Key?.Text ?? "");
                break;
            case StringValueSyntax str:
                path.Add(str.Value ?? "");
                break;
        }
    }
}
