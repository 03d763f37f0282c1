using System.Text.Json;
using McpProxy.Configuration;

namespace McpProxy.Routing;

/// <summary>
/// Applies <c>[backends.default_args]</c> (fills in missing arguments, never overwrites) and
/// <c>[[backends.inject_args]]</c> (per tool; fills in, or overwrites when <c>overwrite = true</c>, removing the client's
/// keys that differ from the injected one only in case) to a tool call's arguments. Values are converted to <see cref="JsonElement"/> once, at construction, so a call only copies references.
/// </summary>
internal sealed class ArgumentInjector
{
    private readonly KeyValuePair<string, JsonElement>[] _defaults;
    private readonly Dictionary<string, (KeyValuePair<string, JsonElement>[] Args, bool Overwrite)[]> _perTool;

    public ArgumentInjector(BackendConfig backend)
    {
        _defaults = backend.DefaultArgs is { } d ? ToElements(d) : [];
        _perTool = backend.InjectArgs
            .GroupBy(i => i.Tool, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(i => (ToElements(i.Args), i.Overwrite)).ToArray(), StringComparer.Ordinal);
    }

    public bool IsEmpty => _defaults.Length == 0 && _perTool.Count == 0;

    /// <summary>Whether calls of <paramref name="tool"/> (the backend's original name) get arguments injected.</summary>
    public bool AppliesTo(string tool) => _defaults.Length > 0 || _perTool.ContainsKey(tool);

    /// <summary>Returns the arguments to send for <paramref name="tool"/> (the backend's original name).</summary>
    public IDictionary<string, JsonElement>? Apply(string tool, IDictionary<string, JsonElement>? arguments)
    {
        var hasPerTool = _perTool.TryGetValue(tool, out var rules);
        if (_defaults.Length == 0 && !hasPerTool)
        {
            return arguments;
        }

        var result = arguments is null
            ? new Dictionary<string, JsonElement>(StringComparer.Ordinal)
            : new Dictionary<string, JsonElement>(arguments, StringComparer.Ordinal);

        if (hasPerTool)
        {
            foreach (var (args, overwrite) in rules!)
            {
                foreach (var (key, value) in args)
                {
                    if (overwrite)
                    {
                        // The injected key wins over every client spelling of it: a backend that reads arguments
                        // case-insensitively must not see the client's "Token" next to the injected "token".
                        RemoveCaseVariants(result, key);
                        result[key] = value;
                    }
                    else
                    {
                        result.TryAdd(key, value);
                    }
                }
            }
        }

        foreach (var (key, value) in _defaults)
        {
            result.TryAdd(key, value);
        }

        return result;
    }

    private static void RemoveCaseVariants(Dictionary<string, JsonElement> arguments, string key)
    {
        List<string>? variants = null;
        foreach (var existing in arguments.Keys)
        {
            if (!string.Equals(existing, key, StringComparison.Ordinal) && string.Equals(existing, key, StringComparison.OrdinalIgnoreCase))
            {
                (variants ??= []).Add(existing);
            }
        }

        foreach (var variant in variants ?? [])
        {
            arguments.Remove(variant);
        }
    }

    private static KeyValuePair<string, JsonElement>[] ToElements(System.Text.Json.Nodes.JsonObject obj) =>
        [.. obj.Select(p => new KeyValuePair<string, JsonElement>(p.Key, JsonSerializer.SerializeToElement(p.Value)))];
}
