using System.Text.Json.Nodes;
using McpProxy.Tests.Infrastructure;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpProxy.Tests.Security;

/// <summary><c>[security] max_argument_size</c> measures everything a client sends in params, for every method routed to a backend.</summary>
public sealed class RequestSizeTests
{
    private static CancellationToken Ct => TestContext.Timeout(60);

    [Fact]
    public async Task Every_param_of_every_routed_method_counts_toward_max_argument_size_and_nothing_oversized_reaches_the_backend()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync("""
            [security]
            max_argument_size = 1024

            """ + backend.Backend("b", "protocol = \"2025-11-25\" # resources/subscribe is a legacy-era request"));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);
        var big = new string('x', 2000);
        JsonObject Pad() => new() { ["pad"] = big };

        foreach (var (method, item, key, parameters) in new (string, string, string, JsonObject)[]
        {
            ("tools/call", "b/echo", "_meta", new() { ["name"] = "b/echo", ["arguments"] = new JsonObject { ["message"] = "hi" }, ["_meta"] = Pad() }),
            ("tools/call", "b/echo", "arguments", new() { ["name"] = "b/echo", ["arguments"] = new JsonObject { ["message"] = big } }),
            ("prompts/get", "b/greet", "arguments", new() { ["name"] = "b/greet", ["arguments"] = new JsonObject { ["name"] = big } }),
            ("prompts/get", "b/greet", "_meta", new() { ["name"] = "b/greet", ["arguments"] = new JsonObject { ["name"] = "x" }, ["_meta"] = Pad() }),
            ("completion/complete", "b/greet", "argument", new()
            {
                ["ref"] = new JsonObject { ["type"] = "ref/prompt", ["name"] = "b/greet" },
                ["argument"] = new JsonObject { ["name"] = "name", ["value"] = big },
            }),
            ("completion/complete", "b/sample://items/{id}", "context", new()
            {
                ["ref"] = new JsonObject { ["type"] = "ref/resource", ["uri"] = "b/sample://items/{id}" },
                ["argument"] = new JsonObject { ["name"] = "id", ["value"] = "1" },
                ["context"] = new JsonObject { ["arguments"] = new JsonObject { ["other"] = big } },
            }),
            ("resources/read", "b/sample://items/" + new string('x', 47) + "…", "uri", new() { ["uri"] = "b/sample://items/" + big }),
            ("resources/read", "b/sample://info", "_meta", new() { ["uri"] = "b/sample://info", ["_meta"] = Pad() }),
            ("resources/read", "b/sample://info", "_meta", new() { ["uri"] = "b/sample://info", ["_meta"] = new JsonObject { ["tracestate"] = big } }),
            ("resources/subscribe", "b/sample://info", "_meta", new() { ["uri"] = "b/sample://info", ["_meta"] = Pad() }),
            ("resources/unsubscribe", "b/sample://info", "_meta", new() { ["uri"] = "b/sample://info", ["_meta"] = Pad() }),
        })
        {
            var before = backend.ReceivedMethods.Count;
            var refused = await Assert.ThrowsAsync<McpProtocolException>(
                () => client.SendRequestAsync(new JsonRpcRequest { Method = method, Params = parameters }, Ct));
            Assert.Equal(McpErrorCode.InvalidParams, refused.ErrorCode);
            Assert.Contains(
                $"The params of {method} '{item}' exceed the limit of 1024 bytes ([security] max_argument_size) at '{key}'; nothing was sent to the backend.",
                refused.Message,
                StringComparison.Ordinal);
            Assert.True(refused.Message.Length < 400, refused.Message); // an oversized value is never echoed back
            Assert.Equal(before, backend.ReceivedMethods.Count);
        }

        // The same requests within the limit pass.
        Assert.Equal("hi", TestCalls.Text(await client.CallToolAsync("b/echo", TestCalls.Message("hi"), cancellationToken: Ct)));
        Assert.NotEmpty((await client.GetPromptAsync("b/greet", new Dictionary<string, object?> { ["name"] = "x" }, cancellationToken: Ct)).Messages);
        Assert.Equal(["1"], (await client.CompleteAsync(new ResourceTemplateReference { Uri = "b/sample://items/{id}" }, "id", "1", cancellationToken: Ct)).Completion.Values);
        Assert.NotEmpty((await client.ReadResourceAsync("b/sample://info", cancellationToken: Ct)).Contents);
        await client.SubscribeToResourceAsync("b/sample://info", cancellationToken: Ct);
        Assert.Contains("resources/subscribe", backend.ReceivedMethods);
    }
}
