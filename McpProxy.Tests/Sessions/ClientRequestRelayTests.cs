using System.Text.Json;
using McpProxy.Tests.Infrastructure;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

// MCP9005: sampling and roots are deprecated from protocol 2026-07-28; clients and backends on 2025-11-25 use them.
#pragma warning disable MCP9005

namespace McpProxy.Tests.Sessions;

/// <summary>
/// Server→client requests of a backend (sampling, elicitation, roots) reach the client whose call the backend is
/// working on, through the proxy: <c>@modelcontextprotocol/server-everything</c>'s trigger tools, a real C# client.
/// </summary>
public sealed class ClientRequestRelayTests
{
    private static CancellationToken Ct => TestContext.Timeout(60);

    private static string Everything => TestPaths.EverythingStdioBackend("e");

    private static string AllText(CallToolResult result) =>
        string.Join("\n", result.Content.OfType<TextContentBlock>().Select(t => t.Text));

    [Fact]
    public async Task Sampling_elicitation_and_roots_requests_reach_the_calling_client()
    {
        await using var proxy = await ProxyHost.StartAsync(Everything);
        var sampled = 0;
        var rootUri = "file:///work/relay-project";
        await using var client = await proxy.ConnectAsync(new McpClientOptions
        {
            Handlers = new McpClientHandlers
            {
                SamplingHandler = (request, _, _) =>
                {
                    Interlocked.Increment(ref sampled);
                    Assert.Contains("relay me", JsonSerializer.Serialize(request!.Messages, McpJsonUtilities.DefaultOptions), StringComparison.Ordinal);
                    return ValueTask.FromResult(new CreateMessageResult
                    {
                        Role = Role.Assistant,
                        Model = "test-model",
                        Content = [new TextContentBlock { Text = "answer from the test client" }],
                    });
                },
                ElicitationHandler = (_, _) => ValueTask.FromResult(new ElicitResult { Action = "decline" }),
                RootsHandler = (_, _) => ValueTask.FromResult(new ListRootsResult
                {
                    Roots = [new Root { Uri = Volatile.Read(ref rootUri), Name = "relay-project" }],
                }),
            },
        }, Ct);

        var sampling = await client.CallToolAsync("e/trigger-sampling-request", new Dictionary<string, object?> { ["prompt"] = "relay me", ["maxTokens"] = 20 }, cancellationToken: Ct);
        Assert.Contains("answer from the test client", AllText(sampling), StringComparison.Ordinal);
        Assert.Equal(1, sampled);

        var elicitation = await client.CallToolAsync("e/trigger-elicitation-request", cancellationToken: Ct);
        Assert.Contains("decline", AllText(elicitation), StringComparison.OrdinalIgnoreCase);

        var roots = await client.CallToolAsync("e/get-roots-list", cancellationToken: Ct);
        Assert.Contains("file:///work/relay-project", AllText(roots), StringComparison.Ordinal);

        // The client's roots change: its roots/list_changed reaches the backend, which asks again and sees the new root.
        Volatile.Write(ref rootUri, "file:///work/moved-project");
        await client.SendNotificationAsync(NotificationMethods.RootsListChangedNotification, cancellationToken: Ct);
        await TestCalls.WaitUntil(async () =>
            AllText(await client.CallToolAsync("e/get-roots-list", cancellationToken: Ct)).Contains("file:///work/moved-project", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_client_without_sampling_gets_a_clear_refusal_through_the_backend()
    {
        await using var proxy = await ProxyHost.StartAsync(Everything);
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);

        string text;
        try
        {
            var result = await client.CallToolAsync("e/trigger-sampling-request", new Dictionary<string, object?> { ["prompt"] = "x", ["maxTokens"] = 5 }, cancellationToken: Ct);
            Assert.True(result.IsError);
            text = AllText(result);
        }
        catch (McpProtocolException ex)
        {
            text = ex.Message;
        }

        Assert.Contains("does not support sampling", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Concurrent_calls_of_one_session_are_relayed_and_calls_of_two_sessions_are_refused_as_ambiguous()
    {
        await using var proxy = await ProxyHost.StartAsync(Everything);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var arrived = 0;
        McpClientOptions Options(bool wait) => new()
        {
            Handlers = new McpClientHandlers
            {
                SamplingHandler = async (_, _, ct) =>
                {
                    Interlocked.Increment(ref arrived);
                    if (wait)
                    {
                        await release.Task.WaitAsync(ct);
                    }

                    return new CreateMessageResult { Role = Role.Assistant, Model = "m", Content = [new TextContentBlock { Text = "sampled" }] };
                },
            },
        };

        await using var a = await proxy.ConnectAsync(Options(wait: true), Ct);
        await using var b = await proxy.ConnectAsync(Options(wait: false), Ct);
        var args = new Dictionary<string, object?> { ["prompt"] = "p", ["maxTokens"] = 5 };

        // Two calls of session a in flight at once: both relayed to a.
        var first = a.CallToolAsync("e/trigger-sampling-request", args, cancellationToken: Ct).AsTask();
        var second = a.CallToolAsync("e/trigger-sampling-request", args, cancellationToken: Ct).AsTask();
        await TestCalls.WaitUntil(() => Volatile.Read(ref arrived) == 2);

        // Session b calls while a's are in flight: the backend's request cannot be attributed, so it is refused.
        string refusal;
        try
        {
            var result = await b.CallToolAsync("e/trigger-sampling-request", args, cancellationToken: Ct);
            refusal = AllText(result);
        }
        catch (McpProtocolException ex)
        {
            refusal = ex.Message;
        }

        Assert.Contains("ambiguous: 2 client sessions have calls in flight", refusal, StringComparison.Ordinal);

        release.SetResult();
        Assert.Contains("sampled", AllText(await first), StringComparison.Ordinal);
        Assert.Contains("sampled", AllText(await second), StringComparison.Ordinal);
        Assert.Equal(2, Volatile.Read(ref arrived));
    }
}
