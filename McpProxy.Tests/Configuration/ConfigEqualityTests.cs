using System.Reflection;
using System.Text.Json.Nodes;
using McpProxy.Configuration;
using Xunit;

namespace McpProxy.Tests.Configuration;

/// <summary>
/// The config records compare by value, collections by content: the hot-reload diff keeps a backend whose config is
/// equal and replaces one where any field changed.
/// </summary>
public sealed class ConfigEqualityTests
{
    [Fact]
    public void The_same_config_read_twice_is_equal_with_equal_hash_codes()
    {
        var a = ConfigTestSupport.Parse(ConfigTestSupport.ReferenceText, Env);
        var b = ConfigTestSupport.Parse(ConfigTestSupport.ReferenceText, Env);

        Assert.NotSame(a.Backends, b.Backends);
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.Equal(a.Backends.Count, b.Backends.Count);
        for (var i = 0; i < a.Backends.Count; i++)
        {
            Assert.Equal(a.Backends[i], b.Backends[i]);
            Assert.Equal(a.Backends[i].GetHashCode(), b.Backends[i].GetHashCode());
        }
    }

    [Fact]
    public void A_backend_moved_to_another_line_is_unchanged()
    {
        var backend = ConfigTestSupport.Parse(ConfigTestSupport.ReferenceText, Env).Backends[0];
        Assert.Equal(backend, backend with { SourceLine = (backend.SourceLine ?? 0) + 10 });
    }

    [Fact]
    public void Env_maps_compare_by_content_not_order()
    {
        var a = new BackendConfig { Name = "b", Env = new Dictionary<string, string> { ["A"] = "1", ["B"] = "2" } };
        var b = new BackendConfig { Name = "b", Env = new Dictionary<string, string> { ["B"] = "2", ["A"] = "1" } };
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
    }

    public static TheoryData<string, string> ComparedProperties()
    {
        var data = new TheoryData<string, string>();
        foreach (var type in ConfigModelReflection.Records)
        {
            foreach (var property in StructuralEquality.PropertiesOf(type).Where(p => p.SetMethod is not null))
            {
                data.Add(type.Name, property.Name);
            }
        }

        return data;
    }

    /// <summary>Every settable property of every record: a changed value makes the record unequal.</summary>
    [Theory]
    [MemberData(nameof(ComparedProperties))]
    public void Any_field_change_makes_the_record_unequal(string typeName, string propertyName)
    {
        var type = ConfigModelReflection.Records.Single(t => t.Name == typeName);
        var original = Sample(type);
        var property = type.GetProperty(propertyName)!;
        var changed = Clone(original);
        property.SetValue(changed, Changed(property.GetValue(original), property.PropertyType));

        Assert.Equal(original, Clone(original));
        Assert.NotEqual(original, changed);
    }

    /// <summary>An instance of a record with every property set to something (the reference config's when it has one).</summary>
    private static object Sample(Type type)
    {
        var config = ConfigTestSupport.Parse(ConfigTestSupport.ReferenceText, Env);
        return type == typeof(ProxyConfig) ? config
            : type == typeof(BackendConfig) ? config.Backends[0]
            : type == typeof(AliasConfig) ? new AliasConfig("from", "to")
            : Activator.CreateInstance(type)!;
    }

    private static object Clone(object record) => record.GetType().GetMethod("<Clone>$")!.Invoke(record, null)!;

    private static object? Changed(object? value, Type type)
    {
        var underlying = Nullable.GetUnderlyingType(type) ?? type;
        return value switch
        {
            null when underlying == typeof(string) => "changed",
            null when underlying == typeof(int) => 1,
            null when underlying == typeof(long) => 1L,
            null when underlying == typeof(JsonObject) => new JsonObject { ["k"] = "v" },
            null when underlying == typeof(IReadOnlyList<string>) => new List<string> { "changed" },
            null => Activator.CreateInstance(underlying),
            string s => s + "-changed",
            int i => i + 1,
            long l => l + 1,
            double d => d + 1,
            bool b => !b,
            Enum e => Enum.GetValues(underlying).Cast<object>().First(v => !v.Equals(e)),
            JsonObject o => AddKey(o),
            IReadOnlyDictionary<string, string> map => new Dictionary<string, string>(map) { ["changed"] = "x" },
            IReadOnlySet<string> set => new HashSet<string>(set) { "changed" },
            IReadOnlyList<string> list => list.Append("changed").ToList(),
            IReadOnlyList<BackendConfig> list => list.Append(new BackendConfig { Name = "changed" }).ToList(),
            IReadOnlyList<AliasConfig> list => list.Append(new AliasConfig("a", "b")).ToList(),
            IReadOnlyList<InjectArgsConfig> list => list.Append(new InjectArgsConfig { Tool = "t" }).ToList(),
            IReadOnlyList<RoleConfig> list => list.Append(new RoleConfig { Name = "r" }).ToList(),
            _ when ConfigModelReflection.IsRecord(underlying) => ChangedRecord(value),
            _ => throw new InvalidOperationException($"no changed value for {type.Name}: teach the test this property type"),
        };
    }

    private static object ChangedRecord(object record)
    {
        var clone = Clone(record);
        var property = StructuralEquality.PropertiesOf(record.GetType()).First(p => p.SetMethod is not null);
        property.SetValue(clone, Changed(property.GetValue(record), property.PropertyType));
        return clone;
    }

    private static JsonObject AddKey(JsonObject o)
    {
        var copy = (JsonObject)o.DeepClone();
        copy["changed"] = true;
        return copy;
    }

    private static string? Env(string name) => "value-of-" + name;
}
