using System.Text.RegularExpressions;
using McpProxy.Configuration;
using McpProxy.Routing;

namespace McpProxy.Tests.Routing;

/// <summary>The name policy's mapping alone: determinism, length, character set, no collisions.</summary>
public sealed partial class NamePolicyUnitTests
{
    [GeneratedRegex("^[A-Za-z0-9_.-]+$")]
    private static partial Regex McpName();

    private static NamePolicy Mcp(int maxLength = 64, string separator = "/") => new(new NamesConfig { Charset = NameCharset.Mcp, MaxLength = maxLength }, separator);
    private static NamePolicy Default(string separator = "/") => new(new NamesConfig(), separator);

    [Fact]
    public void The_default_keeps_the_configured_separator()
    {
        Assert.Equal("sample/echo", Default().Expose("sample", "echo"));
        Assert.Equal("echo", Default().Expose(null, "echo"));
    }

    [Fact]
    public void With_the_mcp_charset_a_name_that_fits_is_exposed_unchanged_but_for_a_separator_outside_the_set()
    {
        Assert.Equal("sample__echo", Mcp().Expose("sample", "echo"));
        Assert.Equal("sample.echo", Mcp(separator: ".").Expose("sample", "echo")); // a separator inside the set is kept
        Assert.Equal("sample/echo", Mcp().Canonical("sample", "echo"));
    }

    [Theory]
    [InlineData("ns:echo")]
    [InlineData("a b")]
    [InlineData("über")]
    [InlineData("x/y")]
    [InlineData("emoji-😀")]
    public void Characters_outside_the_set_are_replaced_and_a_hash_of_the_canonical_name_is_appended(string name)
    {
        var exposed = Mcp().Expose("b", name);
        Assert.Matches(McpName(), exposed);
        Assert.Matches("^b__.*_[0-9a-f]{8}$", exposed);
        Assert.Equal(exposed, Mcp().Expose("b", name)); // deterministic, also across instances
    }

    [Fact]
    public void The_suffix_is_pinned_so_names_stay_stable_across_versions()
    {
        // The README's example: the first 8 hex digits of SHA-256("b/ns:echo").
        Assert.Equal("b__ns_echo_5e1ce5f5", Mcp().Expose("b", "ns:echo"));
    }

    [Fact]
    public void A_long_name_is_cut_to_max_length_with_the_hash_suffix_in_both_charsets()
    {
        var name = new string('t', 100);
        foreach (var policy in new[] { Mcp(), Default(), Mcp(maxLength: 32) })
        {
            var exposed = policy.Expose("backend", name);
            Assert.Equal(policy.MaxLength, exposed.Length);
            Assert.Matches("_[0-9a-f]{8}$", exposed);
            Assert.StartsWith("backend", exposed, StringComparison.Ordinal);
        }

        // Exactly at the limit: unchanged.
        var exact = new string('t', 64 - "backend/".Length);
        Assert.Equal("backend/" + exact, Default().Expose("backend", exact));
    }

    [Fact]
    public void A_cut_never_splits_a_surrogate_pair()
    {
        var name = new string('x', 64 - "b/".Length - 9 - 1) + "😀😀😀😀😀😀😀😀";
        var exposed = Default().Expose("b", name);
        Assert.True(exposed.Length <= 64);
        Assert.False(exposed.Where((c, i) => char.IsHighSurrogate(c) && (i + 1 == exposed.Length || !char.IsLowSurrogate(exposed[i + 1]))).Any());
    }

    [Fact]
    public void Names_that_clean_or_cut_to_the_same_text_stay_distinct()
    {
        var longStem = new string('n', 80);
        string[] names = ["a b", "a_b", "a:b", "a/b", "a__b", "a.b", longStem + "1", longStem + "2", longStem, "A b"];
        var policy = Mcp();
        var exposed = names.Select(n => policy.Expose("x", n)).ToList();
        Assert.Equal(exposed.Count, exposed.Distinct(StringComparer.Ordinal).Count());
        Assert.All(exposed, e => Assert.True(policy.Fits(e), e));
    }

    [Fact]
    public void The_long_hash_form_is_distinct_from_the_short_one_and_still_fits()
    {
        var policy = Mcp();
        var shortForm = policy.Expose("x", "a:b");
        var longForm = policy.Expose("x", "a:b", longHash: true);
        Assert.NotEqual(shortForm, longForm);
        Assert.Matches("_[0-9a-f]{16}$", longForm);
        Assert.True(policy.Fits(longForm));
        // Even a name that fits gets a distinct long form (used only when its natural name is already taken).
        Assert.NotEqual("x__echo", policy.Expose("x", "echo", longHash: true));
    }
}
