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

    /// <summary>The scheme of the file-like resources: any <c>file:</c> URI reads as <c>"file {uri}"</c> (not listed).</summary>
    public const string FileScheme = "file:";

    public static IEnumerable<McpServerResource> Resources(SampleOptions options)
    {
        // Static text: it says so in the 2026-07-28 caching hints (the SDK would send ttlMs 0 / private, "do not cache").
        yield return McpServerResource.Create(
            () => new ReadResourceResult
            {
                Contents = [new TextResourceContents { Uri = InfoUri, MimeType = "text/plain", Text = InfoText }],
                TimeToLive = TimeSpan.FromMinutes(5),
                CacheScope = CacheScope.Public,
            },
            new McpServerResourceCreateOptions { UriTemplate = InfoUri, Name = "info", MimeType = "text/plain", Description = "Static text about this server." });
        yield return McpServerResource.Create(
            ([Description("Item id.")] string id) => $"item {id}",
            new McpServerResourceCreateOptions { UriTemplate = ItemTemplate, Name = "item", MimeType = "text/plain", Description = "An item by id." });
        if (options.ShadowPrefix is { } prefix)
        {
            yield return McpServerResource.Create(
                () => "shadow",
                new McpServerResourceCreateOptions { UriTemplate = prefix + InfoUri, Name = "shadow", MimeType = "text/plain" });
        }
    }

    public static IEnumerable<McpServerPrompt> Prompts(SampleOptions options)
    {
        yield return McpServerPrompt.Create(
            ([Description("Who to greet.")] string name) => new GetPromptResult
            {
                Messages = [new PromptMessage { Role = Role.User, Content = new TextContentBlock { Text = $"Hello, {name}!" } }],
            },
            new McpServerPromptCreateOptions { Name = GreetPrompt, Description = "A greeting for {name}." });
        if (options.ShadowPrefix is { } prefix)
        {
            yield return McpServerPrompt.Create(
                ([Description("Who to greet.")] string name) => new GetPromptResult
                {
                    Messages = [new PromptMessage { Role = Role.User, Content = new TextContentBlock { Text = $"Shadow, {name}!" } }],
                },
                new McpServerPromptCreateOptions { Name = prefix + GreetPrompt });
        }
    }

    /// <summary>
    /// <c>resources/read</c> for what the listed resources do not cover: a <c>file:</c> URI reads as <c>"file {uri}"</c>,
    /// echoing exactly the URI received (a stand-in for a file server, so a test sees which path reached the backend).
    /// </summary>
    public static ValueTask<ReadResourceResult> ReadFileAsync(RequestContext<ReadResourceRequestParams> request, CancellationToken cancellationToken)
    {
        var uri = request.Params?.Uri;
        if (uri is null || !uri.StartsWith(FileScheme, StringComparison.Ordinal))
        {
            throw new McpProtocolException($"Unknown resource URI: '{uri}'", McpErrorCode.InvalidParams);
        }

        Record(request.Services, RequestMethods.ResourcesRead, uri);
        return ValueTask.FromResult(new ReadResourceResult
        {
            Contents = [new TextResourceContents { Uri = uri, MimeType = "text/plain", Text = "file " + uri }],
        });
    }

    /// <summary><c>completion/complete</c>: <c>greet</c>'s <c>name</c> and <c>sample://items/{id}</c>'s <c>id</c>, by prefix.</summary>
    public static ValueTask<CompleteResult> CompleteAsync(RequestContext<CompleteRequestParams> request, CancellationToken cancellationToken)
    {
        var parameters = request.Params;
        if (parameters?.Ref is ResourceTemplateReference { Uri: { } fileUri } && fileUri.StartsWith(FileScheme, StringComparison.Ordinal))
        {
            // File-like templates: the one completion is the template URI received, so a test sees what reached us.
            Record(request.Services, RequestMethods.CompletionComplete, fileUri);
            return ValueTask.FromResult(new CompleteResult { Completion = new Completion { Values = [fileUri], Total = 1, HasMore = false } });
        }

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
        Acknowledge(request.Params?.Uri, RequestMethods.ResourcesSubscribe, "subscribed", request.Services);

    public static ValueTask<EmptyResult> UnsubscribeAsync(RequestContext<UnsubscribeRequestParams> request, CancellationToken cancellationToken) =>
        Acknowledge(request.Params?.Uri, RequestMethods.ResourcesUnsubscribe, "unsubscribed", request.Services);

    private static void Record(IServiceProvider? services, string method, string uri) =>
        services?.GetService<SampleState>()?.ReceivedUris.Enqueue(method + " " + uri);

    private static ValueTask<EmptyResult> Acknowledge(string? uri, string method, string action, IServiceProvider? services)
    {
        if (uri is null || !(uri.StartsWith("sample://", StringComparison.Ordinal) || uri.StartsWith(FileScheme, StringComparison.Ordinal)))
        {
            throw new McpProtocolException($"Unknown resource URI: '{uri}'", McpErrorCode.InvalidParams);
        }

        Record(services, method, uri);

        var logger = services?.GetService<ILoggerFactory>()?.CreateLogger(typeof(SampleContent).FullName!) ?? NullLogger.Instance;
        logger.Subscription(uri, action);

        // A fresh EmptyResult rather than a shared instance (the SDK stamps the shared one for 2026-07-28 streams).
        return ValueTask.FromResult(new EmptyResult());
    }
}
