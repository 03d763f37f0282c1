using System.Reflection;
using System.Text.RegularExpressions;
using McpProxy.Configuration;
using Xunit;

namespace McpProxy.Tests.Configuration;

/// <summary>
/// <c>/admin/config</c> redacts exactly the properties marked <see cref="SecretAttribute"/> (plus expanded values and
/// URL credentials): a property whose name looks secret must carry the marker, so a new secret key cannot be forgotten.
/// </summary>
public sealed partial class SecretMarkerTests
{
    /// <summary>Names that look secret but are not, each with the reason.</summary>
    private static readonly Dictionary<string, string> NotSecret = new(StringComparer.Ordinal)
    {
        [$"{nameof(AuthConfig)}.{nameof(AuthConfig.TokenTypes)}"] = "JWT typ header names (\"at+jwt\"), not tokens",
    };

    [GeneratedRegex("token|secret|password|passwd|key|credential|apikey", RegexOptions.IgnoreCase)]
    private static partial Regex LooksSecret();

    [Fact]
    public void Every_property_whose_name_looks_secret_is_marked_secret()
    {
        var unmarked = ConfigModelReflection.Records
            .SelectMany(t => t.GetProperties(BindingFlags.Public | BindingFlags.Instance).Select(p => (Type: t, Property: p)))
            .Where(x => LooksSecret().IsMatch(x.Property.Name) || LooksSecret().IsMatch(ConfigKeys.NameOf(x.Property)))
            .Where(x => !x.Property.IsDefined(typeof(SecretAttribute), inherit: true))
            .Select(x => $"{x.Type.Name}.{x.Property.Name}")
            .Where(name => !NotSecret.ContainsKey(name))
            .ToList();

        Assert.True(unmarked.Count == 0,
            "config properties that look secret but have no [Secret] marker (add it, or list the property in NotSecret with a reason): "
            + string.Join(", ", unmarked));
    }

    [Fact]
    public void The_secret_marker_is_on_every_known_secret()
    {
        foreach (var (type, name) in new[]
        {
            (typeof(AuthConfig), nameof(AuthConfig.Tokens)),
            (typeof(SecurityConfig), nameof(SecurityConfig.AdminToken)),
            (typeof(BackendConfig), nameof(BackendConfig.BearerToken)),
            (typeof(BackendConfig), nameof(BackendConfig.Env)),
            (typeof(BackendConfig), nameof(BackendConfig.Args)),
            (typeof(BackendConfig), nameof(BackendConfig.DefaultArgs)),
            (typeof(InjectArgsConfig), nameof(InjectArgsConfig.Args)),
        })
        {
            Assert.True(type.GetProperty(name)!.IsDefined(typeof(SecretAttribute), inherit: true), $"{type.Name}.{name} has no [Secret]");
        }
    }

    [Fact]
    public void The_model_has_records_to_check()
    {
        Assert.Contains(typeof(BackendConfig), ConfigModelReflection.Records);
        Assert.Contains(typeof(InjectArgsConfig), ConfigModelReflection.Records);
        Assert.Contains(typeof(RoleMappingConfig), ConfigModelReflection.Records);
    }
}
