using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using McpProxy.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Routing;

/// <summary>
/// The name policy through the real endpoint: every exposed tool and prompt name fits the configured length and
/// character set, every rewritten name routes to its backend's original, roles still decide on the names config
/// writes, and resource names carry their backend's namespace.
/// </summary>
public sealed partial class NamePolicyTests
{
    private static CancellationToken Ct => TestContext.Timeout(60);

    private const string LongAlias = "an_alias_long_enough_that_with_its_backend_prefix_it_passes_sixty_four_characters";

    [GeneratedRegex("^[A-Za-z0-9_.-]{1,64}$")]
    private static partial Regex McpName();

    [Fact]
    public async Task With_charset_mcp_every_name_fits_and_every_rewritten_name_routes_to_the_original()
    {
        var logs = new CapturingLoggerProvider();
        await using var a = await SampleHttpHost.StartAsync("--name", "a");
        await using var b = await SampleHttpHost.StartAsync("--name", "b", "--shadow-prefix", "ns:");
        await using var proxy = await ProxyHost.StartAsync($"""
            [proxy]
            name = "names-proxy"
            [proxy.listen]
            port = 0
            [proxy.names]
            charset = "mcp"

            {a.Backend("a", $"[[backends.aliases]]\nfrom = \"echo\"\nto = \"{LongAlias}\"")}
            {b.Backend("b")}
            """, logging: l => l.AddProvider(logs));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);

        var tools = (await client.ListToolsAsync(cancellationToken: Ct)).Select(t => t.Name).ToList();
        Assert.All(tools, n => Assert.Matches(McpName(), n));
        Assert.Equal(tools.Count, tools.Distinct(StringComparer.Ordinal).Count());
        Assert.Contains("a__add", tools);
        Assert.Contains("b__echo", tools);
        Assert.DoesNotContain(tools, n => n.Contains('/', StringComparison.Ordinal));

        // The backend's own "ns:echo" and the long alias: rewritten with a hash suffix, and callable.
        var shadow = Assert.Single(tools, n => n.StartsWith("b__ns_echo_", StringComparison.Ordinal));
        Assert.Matches("^b__ns_echo_[0-9a-f]{8}$", shadow);
        Assert.Equal("shadow via ns", Text(await client.CallToolAsync(shadow, Message("via ns"), cancellationToken: Ct)));
        var alias = Assert.Single(tools, n => n.StartsWith("a__an_alias_", StringComparison.Ordinal));
        Assert.Equal(64, alias.Length);
        Assert.Equal("via alias", Text(await client.CallToolAsync(alias, Message("via alias"), cancellationToken: Ct)));
        Assert.Equal("3", Text(await client.CallToolAsync("a__add", new Dictionary<string, object?> { ["a"] = 1, ["b"] = 2 }, cancellationToken: Ct)));

        // The canonical spelling is not a second name for the same tool.
        var unknown = await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync("a/add", new Dictionary<string, object?> { ["a"] = 1, ["b"] = 2 }, cancellationToken: Ct).AsTask());
        Assert.Contains("Unknown tool: 'a/add'", unknown.Message, StringComparison.Ordinal);

        // Prompts the same way.
        var prompts = (await client.ListPromptsAsync(cancellationToken: Ct)).Select(p => p.Name).ToList();
        Assert.All(prompts, n => Assert.Matches(McpName(), n));
        Assert.Contains("a__greet", prompts);
        var shadowPrompt = Assert.Single(prompts, n => n.StartsWith("b__ns_greet_", StringComparison.Ordinal));
        var greeting = await client.GetPromptAsync(shadowPrompt, new Dictionary<string, object?> { ["name"] = "x" }, cancellationToken: Ct);
        Assert.Equal("Shadow, x!", ((TextContentBlock)greeting.Messages.Single().Content).Text);

        // Resource names carry the backend's namespace; URIs keep theirs.
        var resources = await client.ListResourcesAsync(cancellationToken: Ct);
        Assert.Equal("a__info", Assert.Single(resources, r => r.Uri == "a/sample://info").Name);
        Assert.Equal("b__info", Assert.Single(resources, r => r.Uri == "b/sample://info").Name);

        // Every rewrite is logged once at info and listed at /admin/names.
        Assert.Contains(logs.Entries, e => e.Level == LogLevel.Information && e.Message == $"Name policy: tool 'b/ns:echo' is exposed as '{shadow}'");
        Assert.Contains(logs.Entries, e => e.Message == $"Name policy: tool 'a/{LongAlias}' is exposed as '{alias}'");
        using var http = new HttpClient { BaseAddress = proxy.BaseAddress };
        var names = (await http.GetFromJsonAsync<JsonObject>("/admin/names", Ct))!;
        Assert.Equal("mcp", (string?)names["charset"]);
        Assert.Equal(64, (int?)names["maxLength"]);
        var rewrites = names["rewrites"]!.AsArray().Select(r => ((string?)r!["kind"], (string?)r["canonical"], (string?)r["exposed"])).ToList();
        Assert.Contains(("tool", "b/ns:echo", shadow), rewrites);
        Assert.Contains(("tool", $"a/{LongAlias}", alias), rewrites);
        Assert.Contains(("tool", "a/add", "a__add"), rewrites);
        Assert.Contains(("prompt", "b/ns:greet", shadowPrompt), rewrites);
    }

    [Fact]
    public async Task A_name_that_collides_with_a_rewritten_one_gets_the_long_suffix_and_both_stay_callable()
    {
        // "x/ns:echo" is rewritten to x__ns_echo_{8 hex digits}; an alias makes the backend's "add" claim exactly that.
        var hashed = "ns_echo_" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData("x/ns:echo"u8))[..8];
        await using var x = await SampleHttpHost.StartAsync("--name", "x", "--shadow-prefix", "ns:");
        await using var proxy = await ProxyHost.StartAsync($"""
            [proxy]
            name = "names-proxy"
            [proxy.listen]
            port = 0
            [proxy.names]
            charset = "mcp"

            {x.Backend("x", $"[[backends.aliases]]\nfrom = \"add\"\nto = \"{hashed}\"")}
            """);
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);

        var tools = (await client.ListToolsAsync(cancellationToken: Ct)).Select(t => t.Name).ToList();
        Assert.Equal(tools.Count, tools.Distinct(StringComparer.Ordinal).Count());
        var claimants = tools.Where(n => n.StartsWith("x__ns_echo_", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, claimants.Count);
        Assert.Contains("x__" + hashed, claimants);
        var other = Assert.Single(claimants, n => n != "x__" + hashed);
        Assert.Matches("_[0-9a-f]{16}$", other);

        // Both route to their own tool.
        var results = new List<string>();
        foreach (var name in claimants)
        {
            var result = await client.CallToolAsync(name, new Dictionary<string, object?> { ["message"] = "m", ["a"] = 1, ["b"] = 2 }, cancellationToken: Ct);
            results.Add(Text(result));
        }

        Assert.Equal(["3", "shadow m"], results.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Without_a_names_table_names_keep_the_configured_separator_and_only_long_ones_are_shortened()
    {
        await using var a = await SampleHttpHost.StartAsync("--name", "a");
        await using var b = await SampleHttpHost.StartAsync("--name", "b");
        await using var proxy = await ProxyHost.StartAsync(
            a.Backend("a", $"[[backends.aliases]]\nfrom = \"echo\"\nto = \"{LongAlias}\"") + b.Backend("b"));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);

        var tools = (await client.ListToolsAsync(cancellationToken: Ct)).Select(t => t.Name).ToList();
        Assert.Contains("a/add", tools);
        Assert.Contains("b/echo", tools);
        Assert.All(tools, n => Assert.True(n.Length <= 64, n));
        var alias = Assert.Single(tools, n => n.StartsWith("a/an_alias_", StringComparison.Ordinal));
        Assert.Matches("^a/an_alias_[a-z_]+_[0-9a-f]{8}$", alias);
        Assert.Equal(64, alias.Length);
        Assert.Equal("long", Text(await client.CallToolAsync(alias, Message("long"), cancellationToken: Ct)));

        // Two backends' "info" resources are told apart by name, not only by URI.
        var resources = await client.ListResourcesAsync(cancellationToken: Ct);
        Assert.Equal("a/info", Assert.Single(resources, r => r.Uri == "a/sample://info").Name);
        Assert.Equal("b/info", Assert.Single(resources, r => r.Uri == "b/sample://info").Name);
        var templates = await client.ListResourceTemplatesAsync(cancellationToken: Ct);
        Assert.Contains(templates, t => t.Name == "a/item");
    }

    [Fact]
    public async Task Roles_decide_on_the_names_config_writes_whatever_the_policy_exposes()
    {
        await using var issuer = await JwtIssuer.StartAsync();
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync($"""
            [proxy]
            name = "names-proxy"
            [proxy.listen]
            port = 0
            [proxy.names]
            charset = "mcp"

            {issuer.AuthToml("""
                [[auth.roles]]
                name = "reader"
                allow_tools = ["b/echo", "b/add"]
                allow_prompts = ["b/none_*"]

                [auth.role_mapping]
                claim = "scope"
                mapping = { "mcp:read" = "reader" }
                """)}

            {backend.Backend("b")}
            """);
        await using var reader = await proxy.ConnectAsync(cancellationToken: Ct, bearerToken: issuer.Token("rita", scope: "mcp:read"));

        Assert.Equal(["b__add", "b__echo"], (await reader.ListToolsAsync(cancellationToken: Ct)).Select(t => t.Name).Order(StringComparer.Ordinal));
        Assert.Equal("ok", Text(await reader.CallToolAsync("b__echo", Message("ok"), cancellationToken: Ct)));
        var calls = backend.ToolCalls;
        var refused = await Assert.ThrowsAsync<McpProtocolException>(() => reader.CallToolAsync("b__toggle_extra", cancellationToken: Ct).AsTask());
        Assert.Contains("The tool 'b__toggle_extra' is not allowed for this caller (rita)", refused.Message, StringComparison.Ordinal);
        Assert.Equal(calls, backend.ToolCalls);
        Assert.Empty(await reader.ListPromptsAsync(cancellationToken: Ct));
        await Assert.ThrowsAsync<McpProtocolException>(() => reader.GetPromptAsync("b__greet", new Dictionary<string, object?> { ["name"] = "x" }, cancellationToken: Ct).AsTask());
    }
}
