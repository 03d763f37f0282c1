using System.Text.Json;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpProxy.Tests.Routing;

/// <summary>Namespacing, routing, aliases, filters and argument injection through the real /mcp endpoint.</summary>
public sealed class AggregationTests(AggregationFixture fixture) : IClassFixture<AggregationFixture>
{
    private static CancellationToken Ct => TestContext.Timeout(60);

    [Fact]
    public async Task Initialize_reports_proxy_identity_instructions_and_capabilities()
    {
        await using var client = await fixture.Proxy.ConnectAsync();
        Assert.Equal("agg-proxy", client.ServerInfo!.Name);
        Assert.Equal("9.9.9", client.ServerInfo.Version);
        Assert.Equal("Aggregated test proxy.", client.ServerInstructions);
        Assert.True(client.ServerCapabilities.Tools?.ListChanged);
        Assert.True(client.ServerCapabilities.Prompts?.ListChanged);
        Assert.True(client.ServerCapabilities.Resources?.Subscribe);
        Assert.NotNull(client.ServerCapabilities.Completions);
    }

    private async Task<HashSet<string>> ToolNamesAsync()
    {
        await using var client = await fixture.Proxy.ConnectAsync();
        return (await client.ListToolsAsync(cancellationToken: Ct)).Select(t => t.Name).ToHashSet();
    }

    [Fact]
    public async Task Tools_from_every_backend_are_namespaced()
    {
        var names = await ToolNamesAsync();

        Assert.Equal(["beta/add", "beta/echo", "beta/whoami"], names.Where(n => n.StartsWith("beta/", StringComparison.Ordinal)).Order());
        Assert.Contains("everything/echo", names);
        Assert.Contains(names, n => n.StartsWith("memory/", StringComparison.Ordinal));
        Assert.All(names, n => Assert.Contains('/', n));
    }

    [Fact]
    public async Task An_aliased_tool_is_listed_under_its_alias_only()
    {
        var names = await ToolNamesAsync();

        Assert.Contains("alpha/say", names);          // alias of echo
        Assert.DoesNotContain("alpha/echo", names);   // the alias replaces the original name
    }

    [Fact]
    public async Task Hidden_tools_are_not_listed()
    {
        var names = await ToolNamesAsync();

        Assert.Contains("alpha/add", names);
        Assert.DoesNotContain("alpha/fail", names);   // hide_tools
    }

    [Fact]
    public async Task Calls_route_to_the_owning_backend()
    {
        await using var client = await fixture.Proxy.ConnectAsync();

        Assert.Equal("hi alpha", Text(await client.CallToolAsync("alpha/say", new Dictionary<string, object?> { ["message"] = "hi alpha" }, cancellationToken: Ct)));
        Assert.Equal("hi beta", Text(await client.CallToolAsync("beta/echo", new Dictionary<string, object?> { ["message"] = "hi beta" }, cancellationToken: Ct)));
        Assert.Contains("hi everything", Text(await client.CallToolAsync("everything/echo", new Dictionary<string, object?> { ["message"] = "hi everything" }, cancellationToken: Ct)));
        Assert.Equal("5", Text(await client.CallToolAsync("beta/add", new Dictionary<string, object?> { ["a"] = 2, ["b"] = 3 }, cancellationToken: Ct)));

        var created = await client.CallToolAsync("memory/create_entities", new Dictionary<string, object?>
        {
            ["entities"] = new[] { new { name = "proxy", entityType = "software", observations = new[] { "routes calls" } } },
        }, cancellationToken: Ct);
        Assert.NotEqual(true, created.IsError);
        Assert.Contains("routes calls", Text(await client.CallToolAsync("memory/read_graph", cancellationToken: Ct)));
    }

    [Theory]
    [InlineData("alpha/nope")]
    [InlineData("alpha/fail")]     // hidden
    [InlineData("alpha/echo")]     // aliased away
    [InlineData("beta/slow")]      // not exposed
    [InlineData("nobackend/echo")]
    [InlineData("echo")]
    public async Task Unknown_or_hidden_tools_get_an_error_naming_them(string name)
    {
        await using var client = await fixture.Proxy.ConnectAsync();
        var ex = await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync(name, cancellationToken: Ct).AsTask());
        Assert.Equal(McpErrorCode.InvalidParams, ex.ErrorCode);
        Assert.Contains($"'{name}'", ex.Message);
    }

    /// <summary>What <c>alpha/echo_args</c> received: the arguments after default_args and inject_args.</summary>
    private async Task<JsonElement> EchoArgsAsync(Dictionary<string, object?> arguments)
    {
        await using var client = await fixture.Proxy.ConnectAsync();
        return Json(await client.CallToolAsync("alpha/echo_args", arguments, cancellationToken: Ct));
    }

    private Task<JsonElement> EchoClientValuesAsync() =>
        EchoArgsAsync(new Dictionary<string, object?> { ["injected_default"] = 7, ["forced"] = false, ["soft"] = "from-client" });

    [Fact]
    public async Task A_bare_call_is_filled_from_the_configured_arguments()
    {
        var bare = await EchoArgsAsync(new Dictionary<string, object?> { ["x"] = 1 });
        Assert.Equal(1, bare.GetProperty("x").GetInt32());
        Assert.Equal(1, bare.GetProperty("injected_default").GetInt32());
        Assert.True(bare.GetProperty("forced").GetBoolean());
        Assert.Equal("from-config", bare.GetProperty("soft").GetString());
    }

    [Fact]
    public async Task Default_args_never_overwrite_a_client_value()
    {
        var client_values = await EchoClientValuesAsync();
        Assert.Equal(7, client_values.GetProperty("injected_default").GetInt32());   // default_args never overwrite
    }

    [Fact]
    public async Task An_overwriting_injection_wins_over_the_client_value()
    {
        var client_values = await EchoClientValuesAsync();
        Assert.True(client_values.GetProperty("forced").GetBoolean());              // overwrite = true wins
    }

    [Fact]
    public async Task A_filling_injection_keeps_the_client_value()
    {
        var client_values = await EchoClientValuesAsync();
        Assert.Equal("from-client", client_values.GetProperty("soft").GetString()); // overwrite = false does not
    }

    [Fact]
    public async Task Default_args_do_not_reach_other_backends()
    {
        await using var client = await fixture.Proxy.ConnectAsync();

        // default_args apply to every tool of the backend, but not to other backends.
        var beta = await client.CallToolAsync("beta/echo", new Dictionary<string, object?> { ["message"] = "m" }, cancellationToken: Ct);
        Assert.Equal("m", Text(beta));
    }

    [Fact]
    public async Task Backend_errors_come_back_with_the_backend_named()
    {
        await using var client = await fixture.Proxy.ConnectAsync();
        var toolError = await client.CallToolAsync("alpha/tool_error", new Dictionary<string, object?> { ["message"] = "nope" }, cancellationToken: Ct);
        Assert.True(toolError.IsError);   // a tool's own error result is passed through as a result
    }

    private async Task<List<string>> PromptNamesAsync()
    {
        await using var client = await fixture.Proxy.ConnectAsync();
        return (await client.ListPromptsAsync(cancellationToken: Ct)).Select(p => p.Name).ToList();
    }

    [Fact]
    public async Task Prompts_are_namespaced()
    {
        var names = await PromptNamesAsync();
        Assert.Contains("alpha/greet", names);
        Assert.Contains(names, n => n.StartsWith("everything/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Prompts_outside_expose_prompts_are_not_listed()
    {
        var names = await PromptNamesAsync();
        Assert.DoesNotContain(names, n => n.StartsWith("beta/", StringComparison.Ordinal)); // expose_prompts matches nothing
    }

    [Fact]
    public async Task A_prompt_routes_to_its_backend()
    {
        await using var client = await fixture.Proxy.ConnectAsync();
        var prompt = await client.GetPromptAsync("alpha/greet", new Dictionary<string, object?> { ["name"] = "Ada" }, cancellationToken: Ct);
        Assert.Contains("Hello, Ada!", ((TextContentBlock)prompt.Messages.Single().Content).Text);
    }

    [Fact]
    public async Task A_prompt_outside_expose_prompts_gets_an_error_naming_it()
    {
        await using var client = await fixture.Proxy.ConnectAsync();
        var ex = await Assert.ThrowsAsync<McpProtocolException>(() => client.GetPromptAsync("beta/greet", new Dictionary<string, object?> { ["name"] = "x" }, cancellationToken: Ct).AsTask());
        Assert.Contains("'beta/greet'", ex.Message);
    }

    [Fact]
    public async Task Resources_are_namespaced_by_uri_prefix()
    {
        await using var client = await fixture.Proxy.ConnectAsync();
        var resources = await client.ListResourcesAsync(cancellationToken: Ct);
        Assert.Contains(resources, r => r.Uri == "alpha/sample://info");
        Assert.Contains(resources, r => r.Uri == "beta/sample://info");
        Assert.Contains(resources, r => r.Uri.StartsWith("everything/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Resource_templates_are_namespaced_by_uri_prefix()
    {
        await using var client = await fixture.Proxy.ConnectAsync();
        var templates = await client.ListResourceTemplatesAsync(cancellationToken: Ct);
        Assert.Contains(templates, t => t.UriTemplate == "alpha/sample://items/{id}");
    }

    [Fact]
    public async Task A_namespaced_resource_reads_back_under_its_namespaced_uri()
    {
        await using var client = await fixture.Proxy.ConnectAsync();
        var info = await client.ReadResourceAsync("alpha/sample://info", cancellationToken: Ct);
        var content = Assert.IsType<TextResourceContents>(Assert.Single(info.Contents));
        Assert.Equal("McpProxy sample backend", content.Text);
        Assert.Equal("alpha/sample://info", content.Uri);
    }

    [Fact]
    public async Task A_uri_of_a_namespaced_template_reads_through_the_proxy()
    {
        await using var client = await fixture.Proxy.ConnectAsync();
        var item = await client.ReadResourceAsync("alpha/sample://items/42", cancellationToken: Ct);
        Assert.Equal("item 42", Assert.IsType<TextResourceContents>(Assert.Single(item.Contents)).Text);
    }

    [Fact]
    public async Task The_original_uri_of_a_listed_resource_reads_through_the_proxy()
    {
        await using var client = await fixture.Proxy.ConnectAsync();
        var resources = await client.ListResourcesAsync(cancellationToken: Ct);
        var everythingResource = resources.First(r => r.Uri.StartsWith("everything/", StringComparison.Ordinal));
        var read = await client.ReadResourceAsync(everythingResource.Uri, cancellationToken: Ct);
        Assert.NotEmpty(read.Contents);
    }

    [Theory]
    [InlineData("alpha/sample://hidden")]
    [InlineData("nobackend/sample://info")]
    [InlineData("sample://info")]
    public async Task Unknown_or_hidden_resources_get_an_error_naming_them(string uri)
    {
        await using var client = await fixture.Proxy.ConnectAsync();
        var ex = await Assert.ThrowsAsync<McpProtocolException>(() => client.ReadResourceAsync(uri, cancellationToken: Ct).AsTask());
        Assert.Equal(McpErrorCode.InvalidParams, ex.ErrorCode);
        Assert.Contains($"'{uri}'", ex.Message);
    }

    [Fact]
    public async Task Completions_route_for_prompts()
    {
        await using var client = await fixture.Proxy.ConnectAsync();
        var prompt = await client.CompleteAsync(new PromptReference { Name = "alpha/greet" }, "name", "a", cancellationToken: Ct);
        Assert.Equal(["alice"], prompt.Completion.Values);
    }

    [Fact]
    public async Task Completions_route_for_resource_templates()
    {
        await using var client = await fixture.Proxy.ConnectAsync();
        var template = await client.CompleteAsync(new ResourceTemplateReference { Uri = "alpha/sample://items/{id}" }, "id", "2", cancellationToken: Ct);
        Assert.Equal(["2"], template.Completion.Values);
    }

    [Fact]
    public async Task Resource_subscription_routes_to_the_backend()
    {
        await using var client = await fixture.Proxy.ConnectAsync();
        await client.SubscribeToResourceAsync("alpha/sample://info", cancellationToken: Ct);
        await client.UnsubscribeFromResourceAsync("alpha/sample://info", cancellationToken: Ct);
        var ex = await Assert.ThrowsAsync<McpProtocolException>(() => client.SubscribeToResourceAsync("nobackend/x://y", cancellationToken: Ct));
        Assert.Contains("'nobackend/x://y'", ex.Message);
    }

    internal static string Text(CallToolResult result) => string.Concat(result.Content.OfType<TextContentBlock>().Select(c => c.Text));

    internal static JsonElement Json(CallToolResult result) => JsonDocument.Parse(Text(result)).RootElement;
}
