using System.Collections;
using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json.Nodes;

namespace McpProxy.Configuration;

/// <summary>
/// Value equality for the config records that hold collections: every public instance property is compared, lists
/// element by element, dictionaries by content (order-insensitive), JSON objects by <see cref="JsonNode.DeepEquals"/>,
/// nested records by their own equality. A property marked <see cref="NotComparedAttribute"/> (where a value was read
/// from, not what it is) is left out. The records use it for <c>Equals</c>/<c>GetHashCode</c>, so the hot-reload diff
/// ("is this backend unchanged?") compares configs by value, and a new property is compared without anyone listing it.
/// </summary>
internal static class StructuralEquality
{
    private static readonly ConcurrentDictionary<Type, PropertyInfo[]> Properties = new();

    public static bool Equal<T>(T a, T? b)
        where T : class
    {
        if (ReferenceEquals(a, b))
        {
            return true;
        }

        if (b is null)
        {
            return false;
        }

        foreach (var property in PropertiesOf(typeof(T)))
        {
            if (!ValueEquals(property.GetValue(a), property.GetValue(b)))
            {
                return false;
            }
        }

        return true;
    }

    public static int Hash<T>(T value)
        where T : class
    {
        var hash = new HashCode();
        foreach (var property in PropertiesOf(typeof(T)))
        {
            hash.Add(ValueHash(property.GetValue(value)));
        }

        return hash.ToHashCode();
    }

    /// <summary>The properties compared: public, instance, readable, not marked <see cref="NotComparedAttribute"/>.</summary>
    internal static PropertyInfo[] PropertiesOf(Type type) => Properties.GetOrAdd(type, t =>
        [.. t.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetIndexParameters().Length == 0 && p.GetMethod is not null && !p.IsDefined(typeof(NotComparedAttribute), inherit: true)
                && p.Name != "EqualityContract")]);

    private static bool ValueEquals(object? a, object? b)
    {
        if (ReferenceEquals(a, b))
        {
            return true;
        }

        if (a is null || b is null)
        {
            return false;
        }

        switch (a, b)
        {
            case (string x, string y):
                return string.Equals(x, y, StringComparison.Ordinal);
            case (JsonNode x, JsonNode y):
                return JsonNode.DeepEquals(x, y);
            case (IEnumerable<KeyValuePair<string, string>> x, IEnumerable<KeyValuePair<string, string>> y):
            {
                var left = x.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
                var right = y.ToList();
                return left.Count == right.Count && right.All(p => left.TryGetValue(p.Key, out var v) && string.Equals(v, p.Value, StringComparison.Ordinal));
            }

            case (IEnumerable x, IEnumerable y):
            {
                var left = x.Cast<object?>().ToList();
                var right = y.Cast<object?>().ToList();
                return left.Count == right.Count && left.Zip(right).All(p => ValueEquals(p.First, p.Second));
            }

            default:
                return a.Equals(b);
        }
    }

    private static int ValueHash(object? value) => value switch
    {
        null => 0,
        string s => StringComparer.Ordinal.GetHashCode(s),
        JsonNode => 1, // equal JSON may be written differently; DeepEquals decides
        IEnumerable<KeyValuePair<string, string>> map => map.Count(),
        IEnumerable items => items.Cast<object?>().Aggregate(17, (h, item) => HashCode.Combine(h, ValueHash(item))),
        _ => value.GetHashCode(),
    };
}

/// <summary>A config property that says where a value came from, not what it is: left out of the records' equality.</summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class NotComparedAttribute : Attribute;
