using McpProxy.Routing;

using McpProxy.Security;

namespace McpProxy.Tests.Security;

/// <summary>
/// The expose (allowlist) / hide (denylist) rule alone: exact names, globs, the two together, and resource prefixes at
/// path boundaries. (The boundary table for resources is in <see cref="RoutingUnitTests"/>.)
/// </summary>
public sealed class ItemFilterTests
{
    [Fact]
    public void Without_expose_or_hide_everything_is_allowed()
    {
        var filter = ItemFilter.Create(null, null);
        Assert.Same(ItemFilter.AllowAll, filter);
        Assert.True(filter.IsAllowed("anything"));
        Assert.True(filter.IsAllowed(""));
    }

    [Theory]
    [InlineData("echo", true)]
    [InlineData("read_file", true)]
    [InlineData("read_", true)]
    [InlineData("write_file", false)]
    [InlineData("Echo", false)]
    [InlineData("echo2", false)]
    public void Expose_allows_only_what_it_lists(string name, bool allowed)
    {
        Assert.Equal(allowed, ItemFilter.Create(["echo", "read_*"], null).IsAllowed(name));
    }

    [Theory]
    [InlineData("echo", false)]
    [InlineData("delete_all", false)]
    [InlineData("delete", true)]
    [InlineData("list", true)]
    public void Hide_refuses_only_what_it_lists(string name, bool allowed)
    {
        Assert.Equal(allowed, ItemFilter.Create(null, ["echo", "delete_*"]).IsAllowed(name));
    }

    [Theory]
    [InlineData("read_file", true)]
    [InlineData("read_secret", false)]
    [InlineData("write_file", false)]
    public void Hide_wins_over_expose(string name, bool allowed)
    {
        Assert.Equal(allowed, ItemFilter.Create(["read_*"], ["*_secret"]).IsAllowed(name));
    }

    [Fact]
    public void An_empty_expose_list_allows_nothing()
    {
        Assert.False(ItemFilter.Create([], null).IsAllowed("echo"));
    }

    [Theory]
    [InlineData("a*c", "abc", true)]
    [InlineData("a*c", "ac", true)]
    [InlineData("a*c", "abcd", false)]
    [InlineData("*", "", true)]
    [InlineData("*x*", "axb", true)]
    [InlineData("a*b*c", "aXbYc", true)]
    [InlineData("a*b*c", "aXcYb", false)]
    public void A_star_matches_any_run_of_characters(string pattern, string name, bool matches)
    {
        Assert.Equal(matches, ItemFilter.Create([pattern], null).IsAllowed(name));
    }

    [Theory]
    [InlineData("a.c", "abc")]
    [InlineData("a+", "aa")]
    [InlineData("(x)", "x")]
    [InlineData("[ab]", "a")]
    [InlineData("a?", "a")]
    public void Regex_characters_in_a_pattern_are_literal(string pattern, string name)
    {
        Assert.False(ItemFilter.Create([pattern], null).IsAllowed(name));
        Assert.True(ItemFilter.Create([pattern], null).IsAllowed(pattern));
    }

    [Theory]
    [InlineData("file:///public", "file:///public/a/b/c.txt", true)]
    [InlineData("file:///public", "file:///public-other", false)]
    [InlineData("file:///public", "file:///public?x=1", true)]
    [InlineData("sample://info", "sample://info#frag", true)]
    public void A_resource_prefix_covers_what_follows_a_path_query_or_fragment_boundary(string pattern, string uri, bool matches)
    {
        Assert.Equal(matches, ItemFilter.Create([pattern], null, prefixMatch: true).IsAllowed(uri));
    }

    [Fact]
    public void Without_prefix_matching_a_resource_style_pattern_matches_only_itself()
    {
        Assert.False(ItemFilter.Create(["file:///public"], null).IsAllowed("file:///public/a.txt"));
        Assert.True(ItemFilter.Create(["file:///public"], null).IsAllowed("file:///public"));
    }

    [Fact]
    public void A_hidden_resource_prefix_inside_an_exposed_one_is_refused()
    {
        var filter = ItemFilter.Create(["file:///public/"], ["file:///public/private"], prefixMatch: true);

        Assert.True(filter.IsAllowed("file:///public/a.txt"));
        Assert.False(filter.IsAllowed("file:///public/private/a.txt"));
        Assert.True(filter.IsAllowed("file:///public/private-not/a.txt"));
    }

    [Fact]
    public void A_trailing_newline_is_not_the_listed_name()
    {
        // "$" in a .NET regex also matches before a final newline: the end of the name must be the end of the text.
        Assert.False(ItemFilter.Create(["echo"], null).IsAllowed("echo\n"));
        Assert.False(ItemFilter.Create(["file:///public"], null, prefixMatch: true).IsAllowed("file:///public\n"));
        Assert.True(ItemFilter.Create(null, ["echo\n"]).IsAllowed("echo"));
    }
}
