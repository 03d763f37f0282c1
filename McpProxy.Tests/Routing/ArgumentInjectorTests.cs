using System.Text.Json;
using System.Text.Json.Nodes;
using McpProxy.Configuration;
using McpProxy.Routing;

namespace McpProxy.Tests.Routing;

/// <summary>
/// Argument injection alone: which value a tool call carries when <c>default_args</c>, the caller and
/// <c>inject_args</c> (filling or overwriting) name the same key.
/// </summary>
public sealed class ArgumentInjectorTests
{
    private static JsonElement Value(string s) => JsonSerializer.SerializeToElement(s);

    private static Dictionary<string, JsonElement> Args(params (string Key, string Value)[] pairs) =>
        pairs.ToDictionary(p => p.Key, p => Value(p.Value), StringComparer.Ordinal);

    private static InjectArgsConfig Inject(string key, string value, bool overwrite, string tool = "t") =>
        new() { Tool = tool, Args = new() { [key] = value }, Overwrite = overwrite };

    private static ArgumentInjector Injector(JsonObject? defaults = null, params InjectArgsConfig[] inject) =>
        new(new BackendConfig { Name = "b", DefaultArgs = defaults, InjectArgs = inject });

    private static string? Sent(ArgumentInjector injector, string key, Dictionary<string, JsonElement>? caller, string tool = "t") =>
        injector.Apply(tool, caller) is { } result && result.TryGetValue(key, out var value) ? value.GetString() : null;

    [Fact]
    public void Default_args_fill_a_missing_key()
    {
        Assert.Equal("default", Sent(Injector(new JsonObject { ["k"] = "default" }), "k", Args()));
    }

    [Fact]
    public void The_caller_wins_over_default_args()
    {
        Assert.Equal("caller", Sent(Injector(new JsonObject { ["k"] = "default" }), "k", Args(("k", "caller"))));
    }

    [Fact]
    public void A_filling_injection_wins_over_default_args()
    {
        Assert.Equal("injected", Sent(Injector(new JsonObject { ["k"] = "default" }, Inject("k", "injected", overwrite: false)), "k", Args()));
    }

    [Fact]
    public void The_caller_wins_over_a_filling_injection()
    {
        Assert.Equal("caller", Sent(Injector(null, Inject("k", "injected", overwrite: false)), "k", Args(("k", "caller"))));
    }

    [Fact]
    public void An_overwriting_injection_wins_over_the_caller()
    {
        Assert.Equal("injected", Sent(Injector(null, Inject("k", "injected", overwrite: true)), "k", Args(("k", "caller"))));
    }

    [Fact]
    public void An_overwriting_injection_wins_over_the_caller_and_default_args()
    {
        var injector = Injector(new JsonObject { ["k"] = "default" }, Inject("k", "injected", overwrite: true));
        Assert.Equal("injected", Sent(injector, "k", Args(("k", "caller"))));
    }

    [Fact]
    public void An_overwriting_injection_removes_the_callers_case_variants_of_its_key()
    {
        var result = Injector(null, Inject("token", "server", overwrite: true)).Apply("t", Args(("Token", "c1"), ("TOKEN", "c2"), ("tokens", "c3")))!;

        Assert.Equal(["token", "tokens"], result.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("server", result["token"].GetString());
    }

    [Fact]
    public void A_filling_injection_keeps_the_callers_case_variants_and_adds_its_key()
    {
        var result = Injector(null, Inject("token", "server", overwrite: false)).Apply("t", Args(("Token", "c1")))!;

        Assert.Equal(["Token", "token"], result.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("c1", result["Token"].GetString());
    }

    [Fact]
    public void Default_args_match_keys_exactly_not_ignoring_case()
    {
        var result = Injector(new JsonObject { ["region"] = "eu" }).Apply("t", Args(("Region", "us")))!;

        Assert.Equal("us", result["Region"].GetString());
        Assert.Equal("eu", result["region"].GetString());
    }

    [Fact]
    public void Inject_args_apply_only_to_their_tool()
    {
        var injector = Injector(null, Inject("k", "injected", overwrite: true, tool: "t"));
        var caller = Args(("k", "caller"));

        Assert.Same(caller, injector.Apply("other", caller));
    }

    [Fact]
    public void Default_args_apply_to_every_tool()
    {
        var injector = Injector(new JsonObject { ["k"] = "default" }, Inject("x", "y", overwrite: true, tool: "t"));

        Assert.Equal("default", Sent(injector, "k", Args(), tool: "other"));
    }

    [Fact]
    public void Injection_fills_a_call_without_arguments()
    {
        Assert.Equal("injected", Sent(Injector(null, Inject("k", "injected", overwrite: false)), "k", caller: null));
    }

    [Fact]
    public void Without_rules_the_callers_arguments_pass_unchanged()
    {
        var injector = Injector();
        var caller = Args(("k", "caller"));

        Assert.True(injector.IsEmpty);
        Assert.Same(caller, injector.Apply("t", caller));
        Assert.Null(injector.Apply("t", null));
    }

    [Fact]
    public void Injection_never_changes_the_callers_dictionary()
    {
        var caller = Args(("k", "caller"));
        _ = Injector(new JsonObject { ["d"] = "default" }, Inject("k", "injected", overwrite: true)).Apply("t", caller);

        Assert.Equal(["k"], caller.Keys);
        Assert.Equal("caller", caller["k"].GetString());
    }

    [Fact]
    public void Of_two_filling_rules_for_one_key_the_first_wins()
    {
        Assert.Equal("first", Sent(Injector(null, Inject("k", "first", false), Inject("k", "second", false)), "k", Args()));
    }

    [Fact]
    public void A_later_overwriting_rule_beats_an_earlier_filling_one()
    {
        Assert.Equal("last", Sent(Injector(null, Inject("k", "first", false), Inject("k", "last", true)), "k", Args()));
    }

    [Fact]
    public void Non_string_values_keep_their_json_type()
    {
        var result = Injector(new JsonObject { ["n"] = 3, ["flag"] = true, ["o"] = new JsonObject { ["x"] = 1 } }).Apply("t", null)!;

        Assert.Equal(JsonValueKind.Number, result["n"].ValueKind);
        Assert.Equal(JsonValueKind.True, result["flag"].ValueKind);
        Assert.Equal(1, result["o"].GetProperty("x").GetInt32());
    }
}
