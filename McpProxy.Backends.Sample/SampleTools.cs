using System.ComponentModel;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Reflection;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Primitives;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace McpProxy.Backends.Sample;

/// <summary>
/// The sample's tools. Parameter names are the wire names, hence the snake_case ones.
/// <see cref="IServiceProvider"/>, <see cref="RequestContext{TParams}"/> and <see cref="CancellationToken"/>
/// parameters are bound by the SDK and are not part of the input schemas.
/// </summary>
[SuppressMessage("Style", "IDE1006:Naming Styles", Justification = "Parameter names are MCP argument names.")]
internal sealed class SampleTools(SampleState state)
{
    public const string ExtraToolName = "extra";
    private const int MaxLargeKb = 64 * 1024;

    private readonly McpServerTool _extra = McpServerTool.Create(
        () => ExtraToolName,
        new McpServerToolCreateOptions { Name = ExtraToolName, Description = "Added at runtime by toggle_extra; returns \"extra\".", ReadOnly = true, Idempotent = true });

    /// <summary>Fills <see cref="SampleState.Tools"/> with every tool of the sample.</summary>
    public static void Register(SampleState state)
    {
        var target = new SampleTools(state);
        foreach (var method in typeof(SampleTools).GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly))
        {
            if (method.GetCustomAttribute<McpServerToolAttribute>() is not null)
            {
                state.Tools.Add(McpServerTool.Create(method, target));
            }
        }

        state.Tools.Add(new EchoArgsTool());

        if (state.Options.ShadowPrefix is { } prefix)
        {
            state.Tools.Add(new ShadowEchoTool(prefix + "echo"));
        }

        for (var i = 0; i < state.Options.ToolsCount; i++)
        {
            var name = string.Create(CultureInfo.InvariantCulture, $"t{i}");
            state.Tools.Add(McpServerTool.Create(
                () => name,
                new McpServerToolCreateOptions { Name = name, Description = $"Trivial tool {name}; returns its own name.", ReadOnly = true, Idempotent = true }));
        }
    }

    [McpServerTool(Name = "echo", ReadOnly = true, Idempotent = true, OpenWorld = false)]
    [Description("Returns the message unchanged.")]
    public string Echo([Description("Text to echo back.")] string message) => message;

    [McpServerTool(Name = "add", ReadOnly = true, Idempotent = true, OpenWorld = false)]
    [Description("Adds two numbers and returns the sum as text.")]
    public string Add([Description("First addend.")] double a, [Description("Second addend.")] double b) =>
        (a + b).ToString(CultureInfo.InvariantCulture);

    [McpServerTool(Name = "slow", ReadOnly = true, OpenWorld = false)]
    [Description("Runs `steps` steps of `delay_ms` each, reporting progress after every step; honours cancellation.")]
    public async Task<string> Slow(
        RequestContext<CallToolRequestParams> request,
        [Description("Number of steps.")] int steps = 5,
        [Description("Delay of each step in milliseconds.")] int delay_ms = 100,
        CancellationToken cancellationToken = default)
    {
        var progressToken = request.Params?.ProgressToken;
        for (var i = 1; i <= steps; i++)
        {
            await Task.Delay(Math.Max(0, delay_ms), cancellationToken);
            if (progressToken is { } token)
            {
                // Awaited (unlike IProgress<T>, which fires and forgets) so progress precedes the result.
                await request.Server.NotifyProgressAsync(
                    token,
                    new ProgressNotificationValue { Progress = i, Total = steps, Message = $"step {i}/{steps}" },
                    cancellationToken: cancellationToken);
            }
        }

        return $"done {steps} steps";
    }

#pragma warning disable MCP9005 // logging is deprecated from 2026-07-28; the proxy talks 2025-11-25 to its backends
    [McpServerTool(Name = "notify", ReadOnly = true, OpenWorld = false)]
    [Description("Sends notifications to the calling session, then returns what it sent as JSON: `log_count` log messages (level `log_level`, data `log_message` padded with '.' to `log_size` characters; none below the level the session set with logging/setLevel), `progress_count` progress notifications with `progress_token` (any token, even one this call was not given) and message `progress_message`, and `updated_count` notifications/resources/updated for `updated_uri`.")]
    public async Task<string> Notify(
        RequestContext<CallToolRequestParams> request,
        int log_count = 0,
        string log_level = "info",
        string log_message = "log",
        int log_size = 0,
        string? progress_token = null,
        string progress_message = "progress",
        int progress_count = 1,
        string? updated_uri = null,
        int updated_count = 1,
        CancellationToken cancellationToken = default)
    {
        var level = System.Text.Json.JsonSerializer.Deserialize<LoggingLevel>($"\"{log_level}\"", McpJsonUtilities.DefaultOptions);
        var threshold = request.Server.LoggingLevel;
        var logs = threshold is { } t && level < t ? 0 : Math.Max(0, log_count);
        var data = log_message.PadRight(Math.Max(log_size, log_message.Length), '.');
        for (var i = 0; i < logs; i++)
        {
            await request.Server.SendNotificationAsync(
                NotificationMethods.LoggingMessageNotification,
                new LoggingMessageNotificationParams { Level = level, Logger = "sample", Data = System.Text.Json.JsonSerializer.SerializeToElement(data) },
                cancellationToken: cancellationToken);
        }

        var progress = progress_token is null ? 0 : Math.Max(0, progress_count);
        for (var i = 1; i <= progress; i++)
        {
            await request.Server.NotifyProgressAsync(
                new ProgressToken(progress_token!), new ProgressNotificationValue { Progress = i, Message = progress_message }, cancellationToken: cancellationToken);
        }

        var updates = updated_uri is null ? 0 : Math.Max(0, updated_count);
        for (var i = 0; i < updates; i++)
        {
            await request.Server.SendNotificationAsync(
                NotificationMethods.ResourceUpdatedNotification, new ResourceUpdatedNotificationParams { Uri = updated_uri! }, cancellationToken: cancellationToken);
        }

        return new JsonObject { ["logs"] = logs, ["progress"] = progress, ["updated"] = updates }.ToJsonString();
    }
#pragma warning restore MCP9005

    [McpServerTool(Name = "echo_meta", ReadOnly = true, Idempotent = true, OpenWorld = false)]
    [Description("Returns the `_meta` object of the request as JSON (`null` without one).")]
    public string EchoMeta(RequestContext<CallToolRequestParams> request) => request.Params?.Meta?.ToJsonString() ?? "null";

    [McpServerTool(Name = "hold", ReadOnly = true, OpenWorld = false)]
    [Description("With a progress token: reports progress 'token:{the token this call got}'. Then waits until `release` is called with the same `name` (honouring cancellation), reports progress 'released' and returns \"released\".")]
    public async Task<string> Hold(RequestContext<CallToolRequestParams> request, [Description("Name of the hold.")] string name, CancellationToken cancellationToken = default)
    {
        var token = request.Params?.ProgressToken;
        if (token is { } t)
        {
            await request.Server.NotifyProgressAsync(t, new ProgressNotificationValue { Progress = 1, Message = "token:" + t }, cancellationToken: cancellationToken);
        }

        await state.Hold(name).WaitAsync(cancellationToken);
        if (token is { } after)
        {
            await request.Server.NotifyProgressAsync(after, new ProgressNotificationValue { Progress = 2, Message = "released" }, cancellationToken: cancellationToken);
        }

        return "released";
    }

    [McpServerTool(Name = "release", OpenWorld = false)]
    [Description("Releases the `hold` calls waiting on `name` (and any later one with that name). Returns \"released\".")]
    public string Release([Description("Name of the hold.")] string name)
    {
        state.Release(name);
        return "released";
    }

    [McpServerTool(Name = "sleep", ReadOnly = true, OpenWorld = false)]
    [Description("Waits `ms` milliseconds (honouring cancellation), then returns \"slept\".")]
    public async Task<string> Sleep([Description("Milliseconds to wait.")] int ms, CancellationToken cancellationToken = default)
    {
        await Task.Delay(Math.Max(0, ms), cancellationToken);
        return "slept";
    }

    [McpServerTool(Name = "large", ReadOnly = true, Idempotent = true, OpenWorld = false)]
    [Description("Returns a text of exactly size_kb * 1024 characters.")]
    public string Large([Description("Size of the text in KiB (1024 characters).")] int size_kb)
    {
        if (size_kb is < 0 or > MaxLargeKb)
        {
            throw new McpProtocolException($"size_kb must be between 0 and {MaxLargeKb}.", McpErrorCode.InvalidParams);
        }

        return new string('x', size_kb * 1024);
    }

    [McpServerTool(Name = "env", ReadOnly = true, Idempotent = true, OpenWorld = false)]
    [Description("Returns JSON mapping each requested environment variable name to its value in this process, or null when unset (to test what a stdio child receives).")]
    public string Env([Description("Names of the environment variables.")] string[] names)
    {
        var result = new JsonObject();
        foreach (var name in names)
        {
            result[name] = Environment.GetEnvironmentVariable(name);
        }

        return result.ToJsonString();
    }

    [McpServerTool(Name = "fail", OpenWorld = false)]
    [Description("Always fails: the client receives a JSON-RPC error carrying the message.")]
    public string Fail([Description("Error message.")] string message) =>
        throw new McpProtocolException(message, McpErrorCode.InternalError);

    [McpServerTool(Name = "tool_error", ReadOnly = true, OpenWorld = false)]
    [Description("Returns a tool result with isError = true and the message as text.")]
    public CallToolResult ToolError([Description("Error message.")] string message) =>
        new() { IsError = true, Content = [new TextContentBlock { Text = message }] };

    [McpServerTool(Name = "whoami", ReadOnly = true, OpenWorld = false)]
    [Description("Returns JSON with the Authorization and traceparent HTTP headers of the request (null over stdio) and this server's span: trace id, span id and the remote parent span id of its outermost local span.")]
    public string WhoAmI(IServiceProvider services)
    {
        var httpContext = services.GetService<IHttpContextAccessor>()?.HttpContext;
        var headers = httpContext?.Request.Headers;

        // The outermost span of this process in the current trace: its parent is the caller's span.
        var local = Activity.Current;
        while (local?.Parent is { } parent)
        {
            local = parent;
        }

        return new JsonObject
        {
            ["authorization"] = HeaderValue(headers?.Authorization),
            ["traceparent"] = HeaderValue(headers?["traceparent"]),
            ["transport"] = httpContext is null ? "stdio" : "http",
            ["span"] = local is null ? null : new JsonObject
            {
                ["traceId"] = local.TraceId.ToHexString(),
                ["spanId"] = local.SpanId.ToHexString(),
                ["parentSpanId"] = local.ParentSpanId == default ? null : local.ParentSpanId.ToHexString(),
                ["currentSpanId"] = Activity.Current!.SpanId.ToHexString(),
                ["currentName"] = Activity.Current.DisplayName,
            },
        }.ToJsonString();

        static string? HeaderValue(StringValues? value) =>
            value is { } v && !StringValues.IsNullOrEmpty(v) ? v.ToString() : null;
    }

    [McpServerTool(Name = "stats", ReadOnly = true, OpenWorld = false)]
    [Description("Returns JSON with the server name, tool calls served (including this one), cancellations observed and the process id.")]
    public string Stats() => new JsonObject
    {
        ["name"] = state.Options.ServerName,
        ["toolCalls"] = state.ToolCalls,
        ["cancellations"] = state.Cancellations,
        ["pid"] = Environment.ProcessId,
    }.ToJsonString();

    [McpServerTool(Name = "toggle_extra", OpenWorld = false)]
    [Description("Adds the tool 'extra', or removes it if present; clients get notifications/tools/list_changed. Returns \"added\" or \"removed\".")]
    public string ToggleExtra(IServiceProvider services)
    {
        var logger = services.GetService<ILoggerFactory>()?.CreateLogger<SampleTools>() ?? (ILogger)NullLogger.Instance;
        if (state.Tools.TryGetPrimitive(ExtraToolName, out var existing) && state.Tools.Remove(existing))
        {
            logger.ToolToggled(ExtraToolName, "removed");
            return "removed";
        }

        state.Tools.TryAdd(_extra);
        logger.ToolToggled(ExtraToolName, "added");
        return "added";
    }
}
