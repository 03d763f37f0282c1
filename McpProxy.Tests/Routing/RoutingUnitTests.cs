using System.Text.Json;
using McpProxy.Sessions;
using McpProxy.Security;
using McpProxy.Mirroring;
using McpProxy.Configuration;
using McpProxy.Routing;

namespace McpProxy.Tests.Routing;

/// <summary>The pure routing rules: resource URI normalization, resource prefix filters and argument injection.</summary>
public sealed class RoutingUnitTests
{
    [Theory]
    // Already normal.
    [InlineData("file:///public/a.txt", "file:///public/a.txt")]
    [InlineData("sample://info", "sample://info")]
    [InlineData("sample://info/", "sample://info/")]
    [InlineData("file:///", "file:///")]
    [InlineData("urn:isbn:0451450523", "urn:isbn:0451450523")]
    [InlineData("https://example.com/a?b=c#d", "https://example.com/a?b=c#d")]
    [InlineData("test://static/resource/1", "test://static/resource/1")]
    // Scheme and host lower-cased; path, query, userinfo keep their case; file://localhost is file:///.
    [InlineData("FILE:///Public/A.txt", "file:///Public/A.txt")]
    [InlineData("HTTPS://User@Example.COM:8443/P?Q=R", "https://User@example.com:8443/P?Q=R")]
    [InlineData("file://localhost/public/a.txt", "file:///public/a.txt")]
    [InlineData("file://LOCALHOST/public", "file:///public")]
    [InlineData("sample://localhost/x", "sample://localhost/x")]
    [InlineData("file://localhost:80/x", "file://localhost:80/x")]
    [InlineData("file:/public/a.txt", "file:///public/a.txt")]
    [InlineData("FILE:/public/../x", "file:///x")]
    [InlineData("file:relative/x", "file:relative/x")]
    [InlineData("http://[FE80::1]/x", "http://[fe80::1]/x")]
    // Unreserved escapes decoded, others' hex upper-cased.
    [InlineData("file:///public/%61%2D%5F%7E.txt", "file:///public/a-_~.txt")]
    [InlineData("file:///public/a%20b", "file:///public/a%20b")]
    [InlineData("file:///public/a?x=%2f&y=%3d", "file:///public/a?x=%2F&y=%3D")]
    [InlineData("https://ex.com/?q=%2f%41", "https://ex.com/?q=%2FA")]
    [InlineData("https://ex.com/#%7e", "https://ex.com/#~")]
    [InlineData("https://%45x.com/", "https://ex.com/")]
    [InlineData("file:///public/a%2etxt", "file:///public/a.txt")]
    [InlineData("file:///public/%C3%A9", "file:///public/%C3%A9")]
    [InlineData("file:///public/é", "file:///public/é")]
    // Dot segments and empty segments.
    [InlineData("file:///public/./a.txt", "file:///public/a.txt")]
    [InlineData("file:///public/x/../a.txt", "file:///public/a.txt")]
    [InlineData("file:///public/../secret/x", "file:///secret/x")]
    [InlineData("file:///public/x/y/../../a", "file:///public/a")]
    [InlineData("file:///public//a.txt", "file:///public/a.txt")]
    [InlineData("file:////public///a.txt", "file:///public/a.txt")]
    [InlineData("file:///public/.", "file:///public/")]
    [InlineData("file:///public/..", "file:///")]
    [InlineData("file:///public/x/..", "file:///public/")]
    [InlineData("file:///public//", "file:///public/")]
    [InlineData("sample://files//x", "sample://files/x")]
    [InlineData("sample://items/x/..", "sample://items/")]
    [InlineData("foo:a/../b", "foo:b")]
    [InlineData("file:///a/..?x=..", "file:///?x=..")]
    [InlineData("file:///a/b#../..", "file:///a/b#../..")]
    [InlineData("file:///a/...", "file:///a/...")]
    [InlineData("file:///a/..b", "file:///a/..b")]
    // URI templates keep their expressions.
    [InlineData("sample://items/{id}", "sample://items/{id}")]
    [InlineData("file:///public/{+path}", "file:///public/{+path}")]
    [InlineData("file:///public/./{path}", "file:///public/{path}")]
    [InlineData("sample://search{?q,Lang}", "sample://search{?q,Lang}")]
    [InlineData("sample://{Host}/x", "sample://{Host}/x")]
    [InlineData("sample://items{/id*}", "sample://items{/id*}")]
    // No scheme: the path rules still apply.
    [InlineData("notes/a/../b", "notes/b")]
    [InlineData("*", "*")]
    public void Normalizes_to_one_spelling(string uri, string expected)
    {
        Assert.True(ResourceUri.TryNormalize(uri, out var normalized, out var error), error);
        Assert.Equal(expected, normalized);
        Assert.True(ResourceUri.TryNormalize(normalized, out var again, out _)); // idempotent
        Assert.Equal(normalized, again);
    }

    [Theory]
    [InlineData("", "it is empty")]
    [InlineData("file:///../x", "it has '..' above the root")]
    [InlineData("file:///public/../../x", "it has '..' above the root")]
    [InlineData("foo:../x", "it has '..' above the root")]
    [InlineData("sample://items/..", "it has '..' above the root")]
    [InlineData("file:///public/%2e%2e/secret", "it contains an encoded '.' or '..' segment")]
    [InlineData("file:///public/.%2E/secret", "it contains an encoded '.' or '..' segment")]
    [InlineData("file:///public/%2e/secret", "it contains an encoded '.' or '..' segment")]
    [InlineData("file:///public/..%2Fsecret", "it contains an encoded '/' or '\\' in its path")]
    [InlineData("file:///public/..%2fsecret", "it contains an encoded '/' or '\\' in its path")]
    [InlineData("file:///public/..%5Csecret", "it contains an encoded '/' or '\\' in its path")]
    [InlineData("file:///public/..\\secret", "it contains a '\\' in its path")]
    [InlineData("file:///public/%zz", "it contains an invalid percent-escape")]
    [InlineData("file:///public/%4", "it contains an invalid percent-escape")]
    [InlineData("file:///public/%", "it contains an invalid percent-escape")]
    [InlineData("file:///public/?q=%g0", "it contains an invalid percent-escape")]
    [InlineData("https://ex%zz.com/", "it contains an invalid percent-escape")]
    [InlineData("file:///public/a\u0001b", "it contains a control character")]
    [InlineData("file:///public/a\nb", "it contains a control character")]
    [InlineData("file:///public/a\u007Fb", "it contains a control character")]
    [InlineData("file:///public/a\u0085b", "it contains a control character")]
    [InlineData("file:///public/a%00b", "it contains a control character")]
    [InlineData("file:///public/a%0Ab", "it contains a control character")]
    [InlineData("https://ex.com/?q=%7f", "it contains a control character")]
    public void Refuses_what_cannot_be_normalized(string uri, string reason)
    {
        Assert.False(ResourceUri.TryNormalize(uri, out _, out var error));
        Assert.Equal(reason, error);
    }

    [Theory]
    [InlineData("file:///public", "file:///public", true)]
    [InlineData("file:///public", "file:///public/a.txt", true)]
    [InlineData("file:///public", "file:///public?x", true)]
    [InlineData("file:///public", "file:///public#x", true)]
    [InlineData("file:///public", "file:///publicity", false)]
    [InlineData("file:///public", "file:///publi", false)]
    [InlineData("file:///public/", "file:///public/a.txt", true)]
    [InlineData("file:///public/", "file:///public/", true)]
    [InlineData("file:///public/", "file:///publicity", false)]
    [InlineData("sample://items/", "sample://items/{id}", true)]
    [InlineData("sample://info", "sample://info", true)]
    [InlineData("sample://info", "sample://information", false)]
    [InlineData("file:///pub*", "file:///publicity", true)]
    [InlineData("file:///*/a.txt", "file:///x/a.txt", true)]
    [InlineData("file:///*/a.txt", "file:///x/a.txtx", false)]
    [InlineData("file:///*/a.txt", "file:///x/a.txt/b", true)]
    public void Resource_prefixes_match_at_path_boundaries(string pattern, string uri, bool matches)
    {
        Assert.Equal(matches, ItemFilter.Create([pattern], null, prefixMatch: true).IsAllowed(uri));
        Assert.Equal(!matches, ItemFilter.Create(null, [pattern], prefixMatch: true).IsAllowed(uri));
    }

    [Fact]
    public void Tool_and_prompt_patterns_still_match_whole_names()
    {
        var filter = ItemFilter.Create(["read_*", "echo"], null);
        Assert.True(filter.IsAllowed("echo"));
        Assert.False(filter.IsAllowed("echo/x"));
        Assert.True(filter.IsAllowed("read_file"));
        Assert.False(filter.IsAllowed("xread_file"));
    }

    private static JsonElement Value(string s) => JsonSerializer.SerializeToElement(s);

    private static ArgumentInjector OverwritingTokenFillingRegion() => new(new BackendConfig
    {
        Name = "b",
        InjectArgs =
        [
            new InjectArgsConfig { Tool = "t", Args = new() { ["token"] = "server" }, Overwrite = true },
            new InjectArgsConfig { Tool = "t", Args = new() { ["Region"] = "eu" }, Overwrite = false },
        ],
    });

    private static IDictionary<string, JsonElement> ApplyToCaseVariants() => OverwritingTokenFillingRegion().Apply("t", new Dictionary<string, JsonElement>
    {
        ["Token"] = Value("c1"), ["TOKEN"] = Value("c2"), ["token"] = Value("c3"), ["tokens"] = Value("c4"), ["region"] = Value("us"),
    })!;

    [Fact]
    public void An_overwriting_injection_removes_client_keys_that_differ_only_in_case()
    {
        var result = ApplyToCaseVariants();

        Assert.Equal(["Region", "region", "token", "tokens"], result.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("server", result["token"].GetString());
        Assert.Equal("c4", result["tokens"].GetString());
    }

    [Fact]
    public void A_filling_injection_keeps_client_keys_that_differ_only_in_case()
    {
        var result = ApplyToCaseVariants();

        Assert.Equal("us", result["region"].GetString());
        Assert.Equal("eu", result["Region"].GetString());
    }

    [Fact]
    public void Injection_leaves_another_tool_untouched()
    {
        var injector = OverwritingTokenFillingRegion();

        // Another tool is untouched.
        var other = new Dictionary<string, JsonElement> { ["Token"] = Value("c1") };
        Assert.Same(other, injector.Apply("u", other));
    }
}
