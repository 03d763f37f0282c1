using System.Text.Json;
using McpProxy.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Routing;

/// <summary>Injected arguments and backend namespaces cannot be shadowed by a client or by another backend.</summary>
public sealed class ShadowingTests
{
    private static CancellationToken Ct => TestContext.Timeout(60);

    [Fact]
    public async Task An_overwriting_injection_removes_client_keys_that_differ_only_in_case()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(backend.Backend("b", """
            [[backends.inject_args]]
            tool = "echo_args"
            args = { token = "server-secret" }
            overwrite = true
            """));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);

        var received = JsonDocument.Parse(Text(await client.CallToolAsync("b/echo_args", new Dictionary<string, object?>
        {
            ["Token"] = "client-1", ["TOKEN"] = "client-2", ["token"] = "client-3", ["tokens"] = "kept", ["other"] = 1,
        }, cancellationToken: Ct))).RootElement;

        Assert.Equal(["other", "token", "tokens"], received.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal("server-secret", received.GetProperty("token").GetString());
        Assert.Equal("kept", received.GetProperty("tokens").GetString());
    }

    [Fact]
    public async Task A_non_namespaced_backend_cannot_publish_names_in_another_backends_namespace()
    {
        var logs = new CapturingLoggerProvider();
        await using var front = await SampleHttpHost.StartAsync("--name", "front", "--shadow-prefix", "b/");
        await using var b = await SampleHttpHost.StartAsync("--name", "b");
        await using var proxy = await ProxyHost.StartAsync(
            front.Backend("front", "namespaced = false") + b.Backend("b"), logging: l => l.AddProvider(logs));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);

        // The front backend's own items are served; the ones in b's namespace are gone from every listing...
        var tools = await client.ListToolsAsync(cancellationToken: Ct);
        Assert.Contains(tools, t => t.Name == "echo");
        Assert.Single(tools, t => t.Name == "b/echo");
        Assert.Equal("from b", Text(await client.CallToolAsync("b/echo", Message("from b"), cancellationToken: Ct)));
        Assert.Single(await client.ListPromptsAsync(cancellationToken: Ct), p => p.Name == "b/greet");
        Assert.Contains("Hello, x!", ((TextContentBlock)(await client.GetPromptAsync("b/greet", new Dictionary<string, object?> { ["name"] = "x" }, cancellationToken: Ct)).Messages.Single().Content).Text);
        var resources = await client.ListResourcesAsync(cancellationToken: Ct);
        Assert.Single(resources, r => r.Uri == "b/sample://info");
        Assert.Equal("McpProxy sample backend", Assert.IsType<TextResourceContents>(Assert.Single((await client.ReadResourceAsync("b/sample://info", cancellationToken: Ct)).Contents)).Text);

        // ...and cannot be reached through the passthrough either, even a name b does not have.
        var frontCalls = front.ToolCalls;
        var refused = await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync("b/no_such_tool", cancellationToken: Ct).AsTask());
        Assert.Contains("Unknown tool: 'b/no_such_tool'", refused.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<McpProtocolException>(() => client.GetPromptAsync("b/no_such_prompt", cancellationToken: Ct).AsTask());
        Assert.Equal(frontCalls, front.ToolCalls);
        Assert.DoesNotContain("prompts/get", front.ReceivedMethods);

        // The operator is told, naming both backends.
        foreach (var (kind, name) in new[] { ("tool", "b/echo"), ("prompt", "b/greet"), ("resource", "b/sample://info") })
        {
            Assert.Contains(logs.Entries, e => e.Level == LogLevel.Warning
                && e.Message.Contains($"Backend 'front' (namespaced = false) publishes the {kind} '{name}' in the namespace of backend 'b'", StringComparison.Ordinal));
        }
    }
}
