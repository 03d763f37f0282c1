using System.Text.Json.Nodes;
using McpProxy.Caching;

namespace McpProxy.Tests.Caching;

/// <summary>The cache key alone: equal calls share a key whatever their argument order; anything that changes the answer or who may see it changes the key.</summary>
public sealed class ResponseCacheKeyTests
{
    private static string Key(string arguments, string identity = "alice", string backend = "b", string kind = "tool", string item = "echo") =>
        ResponseCache.Key(backend, kind, item, JsonNode.Parse(arguments), identity);

    [Fact]
    public void Argument_order_does_not_change_the_key()
    {
        Assert.Equal(Key("""{"a":1,"b":"x"}"""), Key("""{"b":"x","a":1}"""));
    }

    [Fact]
    public void Nested_object_key_order_does_not_change_the_key()
    {
        Assert.Equal(Key("""{"o":{"x":1,"y":[{"p":1,"q":2}]}}"""), Key("""{"o":{"y":[{"q":2,"p":1}],"x":1}}"""));
    }

    [Fact]
    public void Array_order_changes_the_key()
    {
        Assert.NotEqual(Key("""{"a":[1,2]}"""), Key("""{"a":[2,1]}"""));
    }

    [Theory]
    [InlineData("""{"a":1}""", """{"a":2}""")]
    [InlineData("""{"a":1}""", """{"a":"1"}""")]
    [InlineData("""{"a":1}""", """{"A":1}""")]
    [InlineData("""{"a":1}""", """{"a":1,"b":null}""")]
    [InlineData("""{}""", """{"a":null}""")]
    public void Different_arguments_get_different_keys(string one, string other)
    {
        Assert.NotEqual(Key(one), Key(other));
    }

    [Fact]
    public void Callers_are_kept_apart()
    {
        Assert.NotEqual(Key("{}", identity: "alice"), Key("{}", identity: "bob"));
        Assert.NotEqual(Key("{}", identity: "alice"), Key("{}", identity: ""));
    }

    [Fact]
    public void Items_are_kept_apart()
    {
        Assert.NotEqual(Key("{}", item: "echo"), Key("{}", item: "echo2"));
    }

    [Fact]
    public void Kinds_are_kept_apart()
    {
        Assert.NotEqual(Key("{}", kind: "tool", item: "x"), Key("{}", kind: "resource", item: "x"));
    }

    [Fact]
    public void Backends_are_kept_apart_and_the_key_names_its_backend()
    {
        Assert.NotEqual(Key("{}", backend: "a"), Key("{}", backend: "b"));
        Assert.StartsWith("mcp-proxy:a:tool:", Key("{}", backend: "a"), StringComparison.Ordinal);
    }

    [Fact]
    public void Argument_values_and_the_caller_never_appear_in_the_key()
    {
        var key = Key("""{"token":"s3cr3t-value"}""", identity: "alice@example.com");
        Assert.DoesNotContain("s3cr3t", key, StringComparison.Ordinal);
        Assert.DoesNotContain("alice", key, StringComparison.Ordinal);
    }

    [Fact]
    public void No_arguments_and_a_null_argument_node_share_a_key_only_with_themselves()
    {
        Assert.Equal(ResponseCache.Key("b", "tool", "echo", null, "alice"), ResponseCache.Key("b", "tool", "echo", null, "alice"));
        Assert.NotEqual(ResponseCache.Key("b", "tool", "echo", null, "alice"), Key("{}"));
    }

    [Fact]
    public void A_caller_and_an_item_cannot_spell_another_pair()
    {
        // Joined with a newline and no lengths, these two were one key: one caller could read the other's entry.
        Assert.NotEqual(ResponseCache.Key("b", "tool", "b\nc", null, "a"), ResponseCache.Key("b", "tool", "c", null, "a\nb"));
    }
}
