using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

#pragma warning disable MCPEXP001 // Multi Round-Trip Requests (input_required) are experimental in the SDK.
#pragma warning disable MCP9005 // Sampling, roots and logging are deprecated in 2026-07-28 (SEP-2577) but the suite still tests them.

namespace McpProxy.Backends.Sample;

/// <summary>
/// The sample's <c>--conformance</c> mode: the tools, prompts and resources the official conformance suite's server
/// scenarios expect (<c>@modelcontextprotocol/conformance</c>, see docs/conformance.md), served in both protocol eras
/// (<c>initialize</c> clients get a session, 2026-07-28 clients are served statelessly). Names and payloads follow the
/// scenarios' own "Server Implementation Requirements" texts.
/// </summary>
internal static class ConformanceBackend
{
    public const string Name = "mcp-proxy-conformance";
    public const string Instructions = "McpProxy's conformance backend (the official suite's server scenarios).";

    // 1x1 PNG and a minimal WAV header.
    private const string PngBase64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
    private const string WavBase64 = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=";

    /// <summary>How long clients may cache list and read results (SEP-2549).</summary>
    private static readonly TimeSpan CacheTtl = TimeSpan.FromSeconds(30);

    /// <summary>Key of the requestState HMAC (per process: a state is valid only on the process that issued it).</summary>
    private static readonly byte[] StateKey = RandomNumberGenerator.GetBytes(32);

    private static readonly string[] DynamicNames = ["test_dynamic_tool"];

    /// <summary>Server info, capabilities, and the (runtime-mutable) tool and prompt collections.</summary>
    public static void Configure(McpServerOptions o)
    {
        o.ServerInfo = new Implementation { Name = Name, Version = SampleServer.Version };
        o.ServerInstructions = Instructions;
        o.Capabilities = new ServerCapabilities
        {
            Tools = new ToolsCapability { ListChanged = true },
            Prompts = new PromptsCapability { ListChanged = true },
            Resources = new ResourcesCapability { Subscribe = true, ListChanged = true },
            Logging = new LoggingCapability(),
            Completions = new CompletionsCapability(),
        };

        var tools = new McpServerPrimitiveCollection<McpServerTool>();
        var prompts = new McpServerPrimitiveCollection<McpServerPrompt>();
        foreach (var tool in Tools(tools, prompts))
        {
            tools.Add(tool);
        }

        foreach (var prompt in Prompts())
        {
            prompts.Add(prompt);
        }

        o.ToolCollection = tools;
        o.PromptCollection = prompts;
    }

    /// <summary>Resources, completions, and the caching hints on list results.</summary>
    public static void ConfigureHandlers(IMcpServerBuilder mcp)
    {
        mcp.WithListResourcesHandler((_, _) => ValueTask.FromResult(new ListResourcesResult
            {
                Resources =
                [
                    new Resource { Uri = "test://static-text", Name = "static-text", Description = "A static text resource", MimeType = "text/plain" },
                    new Resource { Uri = "test://static-binary", Name = "static-binary", Description = "A static binary resource (PNG)", MimeType = "image/png" },
                    new Resource { Uri = "test://watched-resource", Name = "watched-resource", Description = "A resource for subscriptions", MimeType = "text/plain" },
                ],
                TimeToLive = CacheTtl,
                CacheScope = CacheScope.Public,
            }))
            .WithListResourceTemplatesHandler((_, _) => ValueTask.FromResult(new ListResourceTemplatesResult
            {
                ResourceTemplates =
                [
                    new ResourceTemplate { UriTemplate = "test://template/{id}/data", Name = "template-data", Description = "Data for an id", MimeType = "application/json" },
                ],
                TimeToLive = CacheTtl,
                CacheScope = CacheScope.Public,
            }))
            .WithReadResourceHandler((ctx, _) => ValueTask.FromResult(Read(ctx.Params?.Uri)))
            .WithSubscribeToResourcesHandler((_, _) => ValueTask.FromResult(new EmptyResult()))
            .WithUnsubscribeFromResourcesHandler((_, _) => ValueTask.FromResult(new EmptyResult()))
            .WithCompleteHandler((ctx, _) => ValueTask.FromResult(new CompleteResult
            {
                Completion = new Completion
                {
                    Values = ctx.Params?.Argument.Name == "arg1" ? ["hello", "help"] : [],
                    HasMore = false,
                },
            }))
            .WithRequestFilters(filters =>
            {
                // Caching hints on every cacheable list result (SEP-2549).
                filters.AddListToolsFilter(next => async (ctx, ct) => Hint(await next(ctx, ct)));
                filters.AddListPromptsFilter(next => async (ctx, ct) => Hint(await next(ctx, ct)));
            });
    }

    /// <summary>Refuses a <c>Host</c> or <c>Origin</c> that is not a loopback name (DNS-rebinding protection).</summary>
    public static async Task RejectRebindingAsync(HttpContext context, Func<Task> next)
    {
        static bool IsLocal(string host) => host is "localhost" or "127.0.0.1" or "[::1]" or "::1";

        var hostOk = IsLocal(context.Request.Host.Host);
        var origin = context.Request.Headers.Origin.ToString();
        var originOk = origin.Length == 0 || (Uri.TryCreate(origin, UriKind.Absolute, out var uri) && IsLocal(uri.Host));
        if (!hostOk || !originOk)
        {
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            await context.Response.WriteAsync("Host/Origin not allowed");
            return;
        }

        await next();
    }

    private static T Hint<T>(T result) where T : ICacheableResult
    {
        result.TimeToLive ??= CacheTtl;
        result.CacheScope ??= CacheScope.Public;
        return result;
    }

    private static ReadResourceResult Read(string? uri)
    {
        ResourceContents contents = uri switch
        {
            "test://static-text" => new TextResourceContents { Uri = uri, MimeType = "text/plain", Text = "This is the content of the static text resource." },
            "test://static-binary" => new BlobResourceContents { Uri = uri, MimeType = "image/png", Blob = System.Text.Encoding.UTF8.GetBytes(PngBase64) },
            "test://watched-resource" => new TextResourceContents { Uri = uri, MimeType = "text/plain", Text = "Watched resource content." },
            not null when uri.StartsWith("test://template/", StringComparison.Ordinal) && uri.EndsWith("/data", StringComparison.Ordinal) &&
                          uri["test://template/".Length..^"/data".Length] is { Length: > 0 } id && !id.Contains('/', StringComparison.Ordinal) =>
                new TextResourceContents
                {
                    Uri = uri,
                    MimeType = "application/json",
                    Text = JsonSerializer.Serialize(new TemplateData(id, true, $"Data for ID: {id}"), SampleJson.Default.TemplateData),
                },
            _ => throw new McpProtocolException($"Resource not found: {uri}", McpErrorCode.InvalidParams),
        };
        return new ReadResourceResult { Contents = [contents], TimeToLive = CacheTtl, CacheScope = CacheScope.Public };
    }

    private static IEnumerable<McpServerTool> Tools(McpServerPrimitiveCollection<McpServerTool> tools, McpServerPrimitiveCollection<McpServerPrompt> prompts)
    {
        yield return Tool("test_simple_text", "Returns simple text", () => Text("This is a simple text response for testing."));
        yield return Tool("test_image_content", "Returns an image", () => new CallToolResult { Content = [Image()] });
        yield return Tool("test_audio_content", "Returns audio", () => new CallToolResult
        {
            Content = [new AudioContentBlock { Data = System.Text.Encoding.UTF8.GetBytes(WavBase64), MimeType = "audio/wav" }],
        });
        yield return Tool("test_embedded_resource", "Returns an embedded resource", () => new CallToolResult
        {
            Content = [Embedded("test://embedded-resource", "text/plain", "This is an embedded resource content.")],
        });
        yield return Tool("test_multiple_content_types", "Returns text, image and resource", () => new CallToolResult
        {
            Content =
            [
                new TextContentBlock { Text = "Multiple content types test:" },
                Image(),
                Embedded("test://mixed-content-resource", "application/json", """{"test":"data","value":123}"""),
            ],
        });
        yield return Tool("test_error_handling", "Always fails", () => new CallToolResult
        {
            IsError = true,
            Content = [new TextContentBlock { Text = "This tool intentionally returns an error for testing" }],
        });
        yield return Tool("test_tool_with_logging", "Logs three messages", async (RequestContext<CallToolRequestParams> ctx, CancellationToken ct) =>
        {
            await LogAsync(ctx.Server, ["Tool execution started", "Tool processing data", "Tool execution completed"], ct);
            return Text("Tool with logging executed successfully");
        });
        yield return Tool("test_logging_tool", "Logs one message (only when the request asks for logs)", async (RequestContext<CallToolRequestParams> ctx, CancellationToken ct) =>
        {
            await LogAsync(ctx.Server, ["test_logging_tool ran"], ct);
            return Text("logged");
        });
        yield return Tool("test_tool_with_progress", "Reports progress 0, 50, 100", async (RequestContext<CallToolRequestParams> ctx, CancellationToken ct) =>
        {
            if (ctx.Params?.ProgressToken is { } token)
            {
                foreach (var progress in new[] { 0f, 50f, 100f })
                {
                    await ctx.Server.NotifyProgressAsync(token, new ProgressNotificationValue { Progress = progress, Total = 100 }, cancellationToken: ct);
                }
            }

            return Text("progress done");
        });
        yield return Tool("test_missing_capability", "Needs the client's sampling capability", (RequestContext<CallToolRequestParams> ctx) =>
            ctx.Server.ClientCapabilities?.Sampling is null
                ? throw new MissingRequiredClientCapabilityException(new ClientCapabilities { Sampling = new SamplingCapability() }, "This tool needs sampling.")
                : Text("sampling declared"));
        yield return Tool("test_streaming_elicitation", "Asks for input with input_required", (RequestContext<CallToolRequestParams> ctx) =>
            Has(ctx, "answer") ? Text("streamed ok") : throw Required(new() { ["answer"] = Elicit("Anything to add?", "answer", "string") }));
        yield return Tool("test_trigger_tool_change", "Adds or removes a tool (tools/list_changed)", () =>
        {
            var existing = tools.FirstOrDefault(t => t.ProtocolTool.Name == DynamicNames[0]);
            if (existing is null)
            {
                tools.Add(Tool(DynamicNames[0], "Appears and disappears", () => Text("dynamic")));
            }
            else
            {
                tools.Remove(existing);
            }

            return Text("tool list changed");
        });
        yield return Tool("test_trigger_prompt_change", "Adds or removes a prompt (prompts/list_changed)", () =>
        {
            var existing = prompts.FirstOrDefault(p => p.ProtocolPrompt.Name == "test_dynamic_prompt");
            if (existing is null)
            {
                prompts.Add(Prompt("test_dynamic_prompt", "Appears and disappears", () => UserText("dynamic")));
            }
            else
            {
                prompts.Remove(existing);
            }

            return Text("prompt list changed");
        });

        // Multi Round-Trip Requests (SEP-2322): input_required results.
        yield return Tool("test_input_required_result_elicitation", "Asks for the user's name", (RequestContext<CallToolRequestParams> ctx) =>
            Response(ctx, "user_name") is { } r
                ? Text($"Hello, {ElicitedString(r, "name") ?? "world"}!")
                : throw Required(new() { ["user_name"] = Elicit("What is your name?", "name", "string") }));
        yield return Tool("test_input_required_result_sampling", "Asks the client's model a question", (RequestContext<CallToolRequestParams> ctx) =>
            Response(ctx, "capital_question") is { } r
                ? Text($"Sampling said: {r.Deserialize(InputResponse.CreateMessageResultJsonTypeInfo)?.Content.OfType<TextContentBlock>().FirstOrDefault()?.Text}")
                : throw Required(new() { ["capital_question"] = Sample("What is the capital of France?", 100) }));
        yield return Tool("test_input_required_result_list_roots", "Asks for the client's roots", (RequestContext<CallToolRequestParams> ctx) =>
            Response(ctx, "client_roots") is { } r
                ? Text($"Roots: {string.Join(", ", r.Deserialize(InputResponse.ListRootsResultJsonTypeInfo)?.Roots.Select(x => x.Uri) ?? [])}")
                : throw Required(new() { ["client_roots"] = InputRequest.ForRootsList(new ListRootsRequestParams()) }));
        yield return Tool("test_input_required_result_request_state", "Round-trips a signed requestState", (RequestContext<CallToolRequestParams> ctx) =>
            ctx.Params?.RequestState is { } state && Has(ctx, "confirm")
                ? (Verify(state) == "request-state" ? Text("state-ok") : throw BadState())
                : throw Required(new() { ["confirm"] = Elicit("Please confirm", "ok", "boolean") }, Sign("request-state")));
        yield return Tool("test_input_required_result_multiple_inputs", "Asks for three inputs at once", (RequestContext<CallToolRequestParams> ctx) =>
            ctx.Params?.RequestState is { } state && Has(ctx, "user_name") && Has(ctx, "greeting") && Has(ctx, "client_roots")
                ? (Verify(state) == "multiple" ? Text("multiple-inputs-ok") : throw BadState())
                : throw Required(
                    new()
                    {
                        ["user_name"] = Elicit("What is your name?", "name", "string"),
                        ["greeting"] = Sample("Generate a greeting", 50),
                        ["client_roots"] = InputRequest.ForRootsList(new ListRootsRequestParams()),
                    },
                    Sign("multiple")));
        yield return Tool("test_input_required_result_multi_round", "Three rounds with an evolving requestState", (RequestContext<CallToolRequestParams> ctx) =>
            (ctx.Params?.RequestState is { } state ? Verify(state) ?? throw BadState() : null) switch
            {
                "round-1" when Has(ctx, "step1") => throw Required(new() { ["step2"] = Elicit("Step 2: What is your favorite color?", "color", "string") }, Sign("round-2")),
                "round-2" when Has(ctx, "step2") => Text("multi-round-ok"),
                _ => throw Required(new() { ["step1"] = Elicit("Step 1: What is your name?", "name", "string") }, Sign("round-1")),
            });
        yield return Tool("test_input_required_result_tampered_state", "Refuses a tampered requestState", (RequestContext<CallToolRequestParams> ctx) =>
            ctx.Params?.RequestState is { } state
                ? (Verify(state) == "tamper-check" ? Text("state-ok") : throw BadState())
                : throw Required(new() { ["confirm"] = Elicit("Please confirm", "ok", "boolean") }, Sign("tamper-check")));
        yield return Tool("test_input_required_result_capabilities", "Asks only for what the client declared", (RequestContext<CallToolRequestParams> ctx) =>
        {
            if (ctx.Params?.InputResponses is { Count: > 0 })
            {
                return Text("capabilities-ok");
            }

            var caps = ctx.Server.ClientCapabilities;
            var requests = new Dictionary<string, InputRequest>();
            if (caps?.Elicitation is not null)
            {
                requests["user_name"] = Elicit("What is your name?", "name", "string");
            }

            if (caps?.Sampling is not null)
            {
                requests["greeting"] = Sample("Generate a greeting", 50);
            }

            if (caps?.Roots is not null)
            {
                requests["client_roots"] = InputRequest.ForRootsList(new ListRootsRequestParams());
            }

            return requests.Count == 0 ? Text("no input capability declared") : throw Required(requests);
        });
    }

    private static IEnumerable<McpServerPrompt> Prompts()
    {
        yield return Prompt("test_simple_prompt", "A simple prompt", () => UserText("This is a simple prompt for testing."));
        yield return McpServerPrompt.Create(
            (string arg1, string arg2) => UserText($"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"),
            new McpServerPromptCreateOptions { Name = "test_prompt_with_arguments", Description = "A prompt with two arguments" });
        yield return McpServerPrompt.Create(
            (string resourceUri) => new GetPromptResult
            {
                Messages =
                [
                    new PromptMessage { Role = Role.User, Content = Embedded(resourceUri, "text/plain", "Embedded resource content for testing.") },
                    new PromptMessage { Role = Role.User, Content = new TextContentBlock { Text = "Please process the embedded resource above." } },
                ],
            },
            new McpServerPromptCreateOptions { Name = "test_prompt_with_embedded_resource", Description = "A prompt with an embedded resource" });
        yield return Prompt("test_prompt_with_image", "A prompt with an image", () => new GetPromptResult
        {
            Messages =
            [
                new PromptMessage { Role = Role.User, Content = Image() },
                new PromptMessage { Role = Role.User, Content = new TextContentBlock { Text = "Please analyze the image above." } },
            ],
        });
        yield return McpServerPrompt.Create(
            (RequestContext<GetPromptRequestParams> ctx) =>
                ctx.Params?.InputResponses is { } responses && responses.TryGetValue("user_context", out var r)
                    ? UserText($"Prompt with context: {ElicitedString(r, "context") ?? "none"}")
                    : throw Required(new() { ["user_context"] = Elicit("What context should the prompt use?", "context", "string") }),
            new McpServerPromptCreateOptions { Name = "test_input_required_result_prompt", Description = "A prompt that asks for input first" });
    }

    private static McpServerTool Tool(string name, string description, Delegate handler) =>
        McpServerTool.Create(handler, new McpServerToolCreateOptions { Name = name, Description = description });

    private static McpServerPrompt Prompt(string name, string description, Delegate handler) =>
        McpServerPrompt.Create(handler, new McpServerPromptCreateOptions { Name = name, Description = description });

    private static CallToolResult Text(string text) => new() { Content = [new TextContentBlock { Text = text }] };

    private static GetPromptResult UserText(string text) => new()
    {
        Messages = [new PromptMessage { Role = Role.User, Content = new TextContentBlock { Text = text } }],
    };

    // Data and Blob hold the base64 text as UTF-8 (the SDK writes them as they are): the raw bytes would not be valid JSON base64.
    private static ImageContentBlock Image() => new() { Data = System.Text.Encoding.UTF8.GetBytes(PngBase64), MimeType = "image/png" };

    private static EmbeddedResourceBlock Embedded(string uri, string mimeType, string text) => new()
    {
        Resource = new TextResourceContents { Uri = uri, MimeType = mimeType, Text = text },
    };

    private static async Task LogAsync(McpServer server, string[] messages, CancellationToken ct)
    {
        // The SDK's client logger honours the level the client asked for (and sends nothing when it asked for none).
        var logger = server.AsClientLoggerProvider().CreateLogger("conformance");
        foreach (var message in messages)
        {
            logger.ConformanceLog(message);
            await Task.Yield();
        }

        ct.ThrowIfCancellationRequested();
    }

    private static bool Has(RequestContext<CallToolRequestParams> ctx, string key) => ctx.Params?.InputResponses?.ContainsKey(key) == true;

    private static InputResponse? Response(RequestContext<CallToolRequestParams> ctx, string key) =>
        ctx.Params?.InputResponses is { } responses && responses.TryGetValue(key, out var r) ? r : null;

    private static string? ElicitedString(InputResponse response, string field) =>
        response.Deserialize(InputResponse.ElicitResultJsonTypeInfo)?.Content is { } content && content.TryGetValue(field, out var value)
            ? value.ValueKind == JsonValueKind.String ? value.GetString() : value.ToString()
            : null;

    private static InputRequiredException Required(Dictionary<string, InputRequest> requests, string? state = null) => new(requests, state);

    private static InputRequest Elicit(string message, string field, string type) => InputRequest.ForElicitation(new ElicitRequestParams
    {
        Message = message,
        RequestedSchema = new ElicitRequestParams.RequestSchema
        {
            Properties = new Dictionary<string, ElicitRequestParams.PrimitiveSchemaDefinition>
            {
                [field] = type == "boolean" ? new ElicitRequestParams.BooleanSchema() : new ElicitRequestParams.StringSchema(),
            },
            Required = [field],
        },
    });

    private static InputRequest Sample(string text, int maxTokens) => InputRequest.ForSampling(new CreateMessageRequestParams
    {
        Messages = [new SamplingMessage { Role = Role.User, Content = [new TextContentBlock { Text = text }] }],
        MaxTokens = maxTokens,
    });

    /// <summary><c>base64url(payload).base64url(HMAC-SHA256(payload))</c>.</summary>
    private static string Sign(string payload)
    {
        var bytes = Encoding.UTF8.GetBytes(payload);
        return $"{Base64Url(bytes)}.{Base64Url(HMACSHA256.HashData(StateKey, bytes))}";
    }

    /// <summary>The payload of a state <see cref="Sign"/> issued, or <see langword="null"/> when it was tampered with.</summary>
    private static string? Verify(string state)
    {
        var dot = state.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0)
        {
            return null;
        }

        try
        {
            var payload = System.Buffers.Text.Base64Url.DecodeFromChars(state.AsSpan(0, dot));
            var mac = System.Buffers.Text.Base64Url.DecodeFromChars(state.AsSpan(dot + 1));
            return CryptographicOperations.FixedTimeEquals(mac, HMACSHA256.HashData(StateKey, payload)) ? Encoding.UTF8.GetString(payload) : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static string Base64Url(byte[] bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);

    private static McpProtocolException BadState() => new("requestState failed its integrity check", McpErrorCode.InvalidParams);
}

/// <summary>The JSON text of <c>test://template/{id}/data</c>.</summary>
internal sealed record TemplateData(
    [property: System.Text.Json.Serialization.JsonPropertyName("id")] string Id,
    [property: System.Text.Json.Serialization.JsonPropertyName("templateTest")] bool TemplateTest,
    [property: System.Text.Json.Serialization.JsonPropertyName("data")] string Data);

[System.Text.Json.Serialization.JsonSerializable(typeof(TemplateData))]
internal sealed partial class SampleJson : System.Text.Json.Serialization.JsonSerializerContext;
