using System.Net;
using System.Text.Json.Nodes;
using McpProxy.Tests.Infrastructure;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Security;

/// <summary>One proxy with JWT auth and two roles, a reader (<c>mcp:read</c>) and an admin (<c>mcp:admin</c>), each with a session open.</summary>
public sealed class RoleAccessFixture : IAsyncLifetime
{
    internal JwtIssuer Issuer { get; private set; } = null!;
    internal SampleHttpHost Backend { get; private set; } = null!;
    internal ProxyHost Proxy { get; private set; } = null!;
    internal McpClient Reader { get; private set; } = null!;
    internal McpClient Admin { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var ct = TestContext.Timeout(60);
        Issuer = await JwtIssuer.StartAsync();
        Backend = await SampleHttpHost.StartAsync();
        Proxy = await ProxyHost.StartAsync($"""
            {Issuer.AuthToml(AuthorizationTests.Roles)}

            {Backend.Backend("b")}
            """);
        Reader = await Proxy.ConnectAsync(cancellationToken: ct, bearerToken: Issuer.Token("rita", scope: "openid mcp:read"));
        Admin = await Proxy.ConnectAsync(cancellationToken: ct, bearerToken: Issuer.Token("adam", scope: "mcp:admin"));
    }

    public async Task DisposeAsync()
    {
        await Admin.DisposeAsync();
        await Reader.DisposeAsync();
        await Proxy.DisposeAsync();
        await Backend.DisposeAsync();
        await Issuer.DisposeAsync();
    }
}

/// <summary>Roles shape what each caller lists and may call; a caller whose token maps to no role is refused.</summary>
public sealed class RoleAccessTests(RoleAccessFixture fixture) : IClassFixture<RoleAccessFixture>
{
    private static CancellationToken Ct => TestContext.Timeout(60);

    private McpClient Reader => fixture.Reader;
    private McpClient Admin => fixture.Admin;

    [Fact]
    public async Task Each_caller_lists_the_tools_its_role_allows()
    {
        var readerTools = (await Reader.ListToolsAsync(cancellationToken: Ct)).Select(t => t.Name).Order().ToList();
        Assert.Equal(["b/add", "b/echo", "b/whoami"], readerTools);
        var adminTools = (await Admin.ListToolsAsync(cancellationToken: Ct)).Select(t => t.Name).ToList();
        Assert.Contains("b/fail", adminTools);
        Assert.Contains("b/toggle_extra", adminTools);
    }

    [Fact]
    public async Task A_caller_may_call_a_tool_its_role_allows()
    {
        Assert.Equal("ok", Text(await Reader.CallToolAsync("b/echo", Message("ok"), cancellationToken: Ct)));
    }

    [Fact]
    public async Task A_tool_outside_the_callers_role_is_refused_before_the_backend()
    {
        var calls = fixture.Backend.ToolCalls;
        var refused = await Assert.ThrowsAsync<McpProtocolException>(() => Reader.CallToolAsync("b/toggle_extra", cancellationToken: Ct).AsTask());
        Assert.Equal(McpErrorCode.InvalidParams, refused.ErrorCode);
        Assert.Contains("The tool 'b/toggle_extra' is not allowed for this caller (rita)", refused.Message, StringComparison.Ordinal);
        Assert.Equal(calls, fixture.Backend.ToolCalls); // never reached the backend
    }

    [Fact]
    public async Task A_role_without_rules_may_call_every_tool()
    {
        Assert.Equal("added", Text(await Admin.CallToolAsync("b/toggle_extra", cancellationToken: Ct)));
    }

    [Fact]
    public async Task Prompts_follow_the_role()
    {
        Assert.Empty(await Reader.ListPromptsAsync(cancellationToken: Ct));
        Assert.NotEmpty(await Admin.ListPromptsAsync(cancellationToken: Ct));
        await Assert.ThrowsAsync<McpProtocolException>(() => Reader.GetPromptAsync("b/greet", new Dictionary<string, object?> { ["name"] = "x" }, cancellationToken: Ct).AsTask());
    }

    [Fact]
    public async Task Resources_follow_the_role()
    {
        Assert.DoesNotContain(await Reader.ListResourcesAsync(cancellationToken: Ct), r => r.Uri == "b/sample://info");
        Assert.Contains(await Admin.ListResourcesAsync(cancellationToken: Ct), r => r.Uri == "b/sample://info");
        await Assert.ThrowsAsync<McpProtocolException>(() => Reader.ReadResourceAsync("b/sample://info", cancellationToken: Ct).AsTask());
        Assert.NotEmpty((await Admin.ReadResourceAsync("b/sample://info", cancellationToken: Ct)).Contents);
    }

    [Fact]
    public async Task A_resource_prefix_in_the_role_covers_templates()
    {
        Assert.Empty(await Reader.ListResourceTemplatesAsync(cancellationToken: Ct)); // a resource prefix covers templates
        Assert.Contains(await Admin.ListResourceTemplatesAsync(cancellationToken: Ct), t => t.UriTemplate == "b/sample://items/{id}");
    }

    [Fact]
    public async Task Subscriptions_follow_the_role()
    {
        var subscribe = await Assert.ThrowsAsync<McpProtocolException>(() => Reader.SubscribeToResourceAsync("b/sample://info", cancellationToken: Ct));
        Assert.Contains("The resource 'b/sample://info' is not allowed for this caller (rita)", subscribe.Message, StringComparison.Ordinal);
        await Admin.SubscribeToResourceAsync("b/sample://info", cancellationToken: Ct);
    }

    [Fact]
    public async Task Completions_follow_the_role()
    {
        var complete = await Assert.ThrowsAsync<McpProtocolException>(() => Reader.CompleteAsync(new PromptReference { Name = "b/greet" }, "name", "a", cancellationToken: Ct).AsTask());
        Assert.Contains("The prompt 'b/greet' is not allowed for this caller (rita)", complete.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<McpProtocolException>(() => Reader.CompleteAsync(new ResourceTemplateReference { Uri = "b/sample://items/{id}" }, "id", "2", cancellationToken: Ct).AsTask());
        Assert.Equal(["alice"], (await Admin.CompleteAsync(new PromptReference { Name = "b/greet" }, "name", "a", cancellationToken: Ct)).Completion.Values);
    }

    [Fact]
    public async Task A_token_that_maps_to_no_role_is_refused_outright()
    {
        // A valid token that maps to no role: refused outright (403, insufficient_scope), not given full access.
        using var http = new HttpClient();
        using var request = InitializeRequest(fixture.Proxy.McpEndpoint, fixture.Issuer.Token("eve", scope: "openid profile"));
        using var unmapped = await http.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.Forbidden, unmapped.StatusCode);
        Assert.Contains("error=\"insufficient_scope\"", unmapped.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Equal(
            "the token maps to no role ([auth.role_mapping] on claim 'scope') and there is no [auth] default_role",
            (string?)JsonNode.Parse(await unmapped.Content.ReadAsStringAsync(Ct))!["error_description"]);
    }
}
