using Microsoft.Extensions.Logging;

namespace McpProxy.Backends.Sample;

internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information,
        Message = "Sample MCP server '{Name}' starting (stdio: {Stdio}, http: {Http}, latency: {LatencyMs} ms, error rate: {ErrorRate}, crash after: {CrashAfter}, extra tools: {ToolsCount})")]
    public static partial void Starting(this ILogger logger, string name, bool stdio, string http, int latencyMs, double errorRate, int? crashAfter, int toolsCount);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Injected failure into tool call '{Tool}'")]
    public static partial void InjectedFailure(this ILogger logger, string tool);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Tool call '{Tool}' was cancelled")]
    public static partial void ToolCallCancelled(this ILogger logger, string tool);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "Served {Count} tool calls: crashing as configured (exit code {ExitCode})")]
    public static partial void Crashing(this ILogger logger, long count, int exitCode);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "Tool '{Tool}' {Action} at runtime")]
    public static partial void ToolToggled(this ILogger logger, string tool, string action);

    [LoggerMessage(EventId = 6, Level = LogLevel.Information, Message = "Resource '{Uri}' {Action}")]
    public static partial void Subscription(this ILogger logger, string uri, string action);

    [LoggerMessage(EventId = 7, Level = LogLevel.Information, Message = "{Text}")]
    public static partial void ConformanceLog(this ILogger logger, string text);
}
