using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using ModelContextProtocol.Protocol;

namespace McpProxy.Observability;

/// <summary>
/// <c>mcp.server.operation.duration</c> for the calls the proxy answers without the MCP SDK's server (the fast path):
/// the SDK records it for every request its server handles, so a dashboard on it would otherwise not see 2026-07-28
/// calls. The same instrument as the SDK's — meter <c>Experimental.ModelContextProtocol</c>, name, unit, description,
/// semconv buckets — so OpenTelemetry aggregates both into one metric, with the attributes the SDK gives a request
/// (method, transport, protocol version, the tool, prompt or resource the client named, and the error type).
/// </summary>
/// <remarks>A static meter, as the SDK's: one per process, read by every host's meter provider that listens to it.</remarks>
internal static class ServerOperationMetric
{
    private static readonly Meter Meter = new(Extensions.McpSdkTelemetryName);

    private static readonly Histogram<double> Duration = Meter.CreateHistogram(
        "mcp.server.operation.duration", unit: "s",
        description: "MCP request or notification duration as observed on the receiver from the time it was received until the result or ack is sent.",
        advice: ProxyDiagnostics.DurationAdvice);

    /// <summary>Whether anything listens (nothing is measured otherwise).</summary>
    public static bool Enabled => Duration.Enabled;

    /// <param name="errorType">The JSON-RPC error code, <c>tool_error</c> for a tool result with <c>isError</c>, or null.</param>
    public static void Record(long startedTimestamp, string method, string item, string protocolVersion, string? errorType, bool rpcError)
    {
        var tags = new TagList
        {
            { "mcp.method.name", method },
            { "network.transport", "tcp" },
            { "network.protocol.name", "http" },
            { "mcp.protocol.version", protocolVersion },
        };
        switch (method)
        {
            case RequestMethods.ToolsCall:
                tags.Add("gen_ai.tool.name", item);
                tags.Add("gen_ai.operation.name", "execute_tool");
                break;
            case RequestMethods.PromptsGet:
                tags.Add("gen_ai.prompt.name", item);
                break;
            case RequestMethods.ResourcesRead:
                tags.Add("mcp.resource.uri", item);
                break;
        }

        if (errorType is not null)
        {
            tags.Add("error.type", errorType);
            if (rpcError)
            {
                tags.Add("rpc.response.status_code", errorType);
            }
        }

        Duration.Record(Stopwatch.GetElapsedTime(startedTimestamp).TotalSeconds, tags);
    }
}
