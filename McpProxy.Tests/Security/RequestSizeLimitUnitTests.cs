using System.Text.Json.Nodes;
using McpProxy.Security;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpProxy.Tests.Security;

/// <summary>The whole-request size check, on its own: what counts, and where the error says the limit was crossed.</summary>
public sealed class RequestSizeLimitUnitTests
{
    private static JsonRpcRequest Request(JsonObject parameters) => new() { Id = new RequestId(1), Method = "tools/call", Params = parameters };

    private const string Traceparent = "00-076bea1d8f60048f4ef2774d3c918b71-ea036b3e4948c396-01";

    // {"name":"b/echo","arguments":{"m":"x…60"},"_meta":{}}: 111 bytes without the trace context.
    private static JsonObject Params(JsonObject meta) => new() { ["name"] = "b/echo", ["arguments"] = new JsonObject { ["m"] = new string('x', 60) }, ["_meta"] = meta };

    [Fact]
    public void Trace_context_within_its_limits_is_not_counted()
    {
        var traceparent = Traceparent;
        RequestSizeLimit.Check(Request(Params(new JsonObject { ["traceparent"] = traceparent, ["tracestate"] = new string('t', 512) })), "b/echo", 120);
    }

    [Fact]
    public void Trace_context_over_its_limits_and_any_other_meta_is_counted()
    {
        var traceparent = Traceparent;
        var oversizedParent = Assert.Throws<McpProtocolException>(() =>
            RequestSizeLimit.Check(Request(Params(new JsonObject { ["traceparent"] = traceparent + "-more" })), "b/echo", 120));
        Assert.Contains("at '_meta'", oversizedParent.Message, StringComparison.Ordinal);
        Assert.Throws<McpProtocolException>(() =>
            RequestSizeLimit.Check(Request(Params(new JsonObject { ["tracestate"] = new string('t', 513) })), "b/echo", 120));
        Assert.Throws<McpProtocolException>(() =>
            RequestSizeLimit.Check(Request(Params(new JsonObject { ["progressToken"] = new string('p', 40) })), "b/echo", 120));
    }

    [Fact]
    public void Oversized_arguments_are_refused_naming_the_call_the_limit_and_where()
    {
        var arguments = Assert.Throws<McpProtocolException>(() => RequestSizeLimit.Check(Request(Params([])), "b/echo", 60));
        Assert.Equal(McpErrorCode.InvalidParams, arguments.ErrorCode);
        Assert.Equal(
            "The params of tools/call 'b/echo' exceed the limit of 60 bytes ([security] max_argument_size) at 'arguments'; nothing was sent to the backend.",
            arguments.Message);
    }
}
