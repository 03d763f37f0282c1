using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;

namespace McpProxy.Configuration;

/// <summary>
/// The keys a config table allows, derived from the record it is read into: every public instance property with an
/// <c>init</c> accessor, in declaration order, named in snake_case (<c>MaxBackoffMs</c> → <c>max_backoff_ms</c>) or by
/// <see cref="ConfigKeyAttribute"/>; a property marked <see cref="NotAKeyAttribute"/> is not a key. The reader's
/// unknown-key check, its "did you mean" hints and the JSON Schema (<see cref="ConfigSchema"/>) all use these lists, so a
/// new property is a new key everywhere at once.
/// </summary>
internal static class ConfigKeys
{
    private static readonly ConcurrentDictionary<Type, IReadOnlyList<string>> Cache = new();

    public static IReadOnlyList<string> Of<T>() => Of(typeof(T));

    public static IReadOnlyList<string> Of(Type model) => Cache.GetOrAdd(model, static t =>
        [.. KeyProperties(t).Select(p => p.Key)]);

    /// <summary>The key properties of a record with their key names, in declaration order.</summary>
    public static IEnumerable<(string Key, PropertyInfo Property)> KeyProperties(Type model) =>
        model.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.SetMethod is { IsPublic: true } && !p.IsDefined(typeof(NotAKeyAttribute), inherit: true))
            .OrderBy(p => p.MetadataToken)
            .Select(p => (NameOf(p), p));

    /// <summary>The key a property is read from.</summary>
    public static string NameOf(PropertyInfo property) =>
        property.GetCustomAttribute<ConfigKeyAttribute>()?.Name ?? JsonNamingPolicy.SnakeCaseLower.ConvertName(property.Name);
}

/// <summary>A config record property that is not read from a key (where the config came from, a computed value).</summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class NotAKeyAttribute : Attribute;

/// <summary>The key a config record property is read from, when it is not the property's name in snake_case.</summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class ConfigKeyAttribute(string name) : Attribute
{
    public string Name { get; } = name;
}
