using System.ComponentModel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace McpProxy.Backends.Sample;

/// <summary>The sample's resources, resource template, prompt, completions and subscription handlers.</summary>
internal static class SampleContent
{
    public const string InfoUri = "sample://info";
    public const string InfoText = "McpProxy sample backend";
    public const string ItemTemplate = "sample://items/{id}";
    public const string GreetPrompt = "greet";

    private static readonly string[] GreetNames = ["alice", "bob", "carol"];
    private static readonly string[] ItemIds = ["1", "2", "3"];

    public static IEnumerable<McpServerResource> Resources() =>
    [
        McpServerResource.Create(
            () => InfoText,
            new McpServerResourceCreateOptions { UriTemplate = InfoUri, Name = "info", MimeType = "text/plain", Description = "Static text about this server." }),
        McpServerResource.Create(
            ([Description("Item id.")] string id) => $"item {id}",
            new McpServerResourceCreateOptions { UriTemplate = ItemTemplate, Name = "item", MimeType = "text/plain", Description = "An item by id." }),
    ];

    public static IEnumerable<McpServerPrompt> Prompts() =>
    [
        McpServerPrompt.Create(
            ([Description("Who to greet.")] string name) => new GetPromptResult
            {
                Messages = [new PromptMessage { Role = Role.User, Content = new TextContentBlock { Text = $"Hello, {name}!" } }],
            },
            new McpServerPromptCreateOptions { Name = GreetPrompt, Description = "A greeting for {name}." }),
    ];

    /// <summary><c>completion/complete</c>: <c>greet</c>'s <c>name</c> and <c>sample://items/{id}</c>'s <c>id</c>, by prefix.</summary>
    public static ValueTask<CompleteResult> CompleteAsync(RequestContext<CompleteRequestParams> request, CancellationToken cancellationToken)
    {
        var parameters = request.Params;
        if (parameters?.Argument.Name == "echo_meta")
        {
            // For tests: the request's _meta as the one completion value.
            return ValueTask.FromResult(new CompleteResult { Completion = new Completion { Values = [parameters.Meta?.ToJsonString() ?? "null"], Total = 1 } });
        }

        string[] candidates = parameters?.Ref switch
        {
            PromptReference { Name: GreetPrompt } when parameters.Argument.Name == "name" => GreetNames,
            ResourceTemplateReference { Uri: ItemTemplate } when parameters.Argument.Name == "id" => ItemIds,
            _ => [],
        };

        var prefix = parameters?.Argument.Value ?? string.Empty;
        var values = candidates.Where(c => c.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)).ToList();
        return ValueTask.FromResult(new CompleteResult
        {
            Completion = new Completion { Values = values, Total = values.Count, HasMore = false },
        });
    }

    public static ValueTask<EmptyResult> SubscribeAsync(RequestContext<SubscribeRequestParams> request, CancellationToken cancellationToken) =>
        Acknowledge(request.Params?.Uri, "subscribed", request.Services);

    public static ValueTask<EmptyResult> UnsubscribeAsync(RequestContext<UnsubscribeRequestParams> request, CancellationToken cancellationToken) =>
        Acknowledge(request.Params?.Uri, "unsubscribed", request.Services);

    private static ValueTask<EmptyResult> Acknowledge(string? uri, string action, IServiceProvider? services)
    {
        if (uri is null || !uri.StartsWith("sample://", StringComparison.Ordinal))
        {
            throw new McpProtocolException($"Unknown resource URI: '{uri}'", McpErrorCode.InvalidParams);
        }

        var logger = services?.GetService<ILoggerFactory>()?.CreateLogger(typeof(SampleContent).FullName!) ?? NullLogger.Instance;
        logger.Subscription(uri, action);

        // A fresh EmptyResult rather than a shared instance (the SDK stamps the shared one for 2026-07-28 streams).
        return ValueTask.FromResult(new EmptyResult());
    }
}
