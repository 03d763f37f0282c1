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
