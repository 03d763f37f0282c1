using System.Reflection;
using McpProxy.Configuration;

namespace McpProxy.Tests.Configuration;

/// <summary>Every config record reachable from <see cref="ProxyConfig"/>, for the tests that reflect over the model.</summary>
internal static class ConfigModelReflection
{
    public static IReadOnlyList<Type> Records { get; } = Collect();

    public static bool IsRecord(Type type) =>
        type.Namespace == typeof(ProxyConfig).Namespace && type.IsClass && type.GetMethod("<Clone>$") is not null;

    private static List<Type> Collect()
    {
        var seen = new List<Type>();
        var queue = new Queue<Type>([typeof(ProxyConfig)]);
        while (queue.TryDequeue(out var type))
        {
            if (seen.Contains(type))
            {
                continue;
            }

            seen.Add(type);
            foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance))
            {
                foreach (var candidate in new[] { property.PropertyType }.Concat(property.PropertyType.GetGenericArguments()))
                {
                    if (IsRecord(candidate))
                    {
                        queue.Enqueue(candidate);
                    }
                }
            }
        }

        return seen;
    }
}
