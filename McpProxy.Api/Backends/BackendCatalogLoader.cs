using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpProxy.Backends;

/// <summary>Where a backend's lists are read from: its live client (<see cref="McpClientCatalogSource"/>), or a fake in tests.</summary>
internal interface ICatalogSource
{
    ServerCapabilities Capabilities { get; }

    Task<ListToolsResult> ListToolsAsync(string? cursor, CancellationToken cancellationToken);

    Task<ListPromptsResult> ListPromptsAsync(string? cursor, CancellationToken cancellationToken);

    Task<ListResourcesResult> ListResourcesAsync(string? cursor, CancellationToken cancellationToken);

    Task<ListResourceTemplatesResult> ListResourceTemplatesAsync(string? cursor, CancellationToken cancellationToken);
}

/// <summary>A backend's lists as its MCP client pages them.</summary>
internal sealed class McpClientCatalogSource(McpClient client) : ICatalogSource
{
    public ServerCapabilities Capabilities => client.ServerCapabilities;

    public async Task<ListToolsResult> ListToolsAsync(string? cursor, CancellationToken cancellationToken) =>
        await client.ListToolsAsync(new ListToolsRequestParams { Cursor = cursor }, cancellationToken);

    public async Task<ListPromptsResult> ListPromptsAsync(string? cursor, CancellationToken cancellationToken) =>
        await client.ListPromptsAsync(new ListPromptsRequestParams { Cursor = cursor }, cancellationToken);

    public async Task<ListResourcesResult> ListResourcesAsync(string? cursor, CancellationToken cancellationToken) =>
        await client.ListResourcesAsync(new ListResourcesRequestParams { Cursor = cursor }, cancellationToken);

    public async Task<ListResourceTemplatesResult> ListResourceTemplatesAsync(string? cursor, CancellationToken cancellationToken) =>
        await client.ListResourceTemplatesAsync(new ListResourceTemplatesRequestParams { Cursor = cursor }, cancellationToken);
}

/// <summary>
/// Reads a backend's catalog: every page of its tools, prompts, resources and resource templates (only the lists its
/// capabilities offer), in full at connect and one part at a time when the backend says that list changed.
/// </summary>
internal static class BackendCatalogLoader
{
    /// <summary>The most pages read from one list: a backend that returns cursors forever must not hang the proxy.</summary>
    internal const int MaxPages = 1000;

    /// <summary>Lists <paramref name="parts"/> again; the other parts are kept from <paramref name="previous"/>.</summary>
    public static async Task<BackendCatalog> LoadAsync(ICatalogSource source, CatalogParts parts, BackendCatalog previous, CancellationToken ct)
    {
        var caps = source.Capabilities;
        var tools = previous.Tools;
        var prompts = previous.Prompts;
        var resources = previous.Resources;
        var templates = previous.ResourceTemplates;

        if (parts.HasFlag(CatalogParts.Tools))
        {
            tools = caps.Tools is null ? [] : await ListAllAsync(cursor => source.ListToolsAsync(cursor, ct), r => (r.Tools, r.NextCursor));
        }

        if (parts.HasFlag(CatalogParts.Prompts))
        {
            prompts = caps.Prompts is null ? [] : await ListAllAsync(cursor => source.ListPromptsAsync(cursor, ct), r => (r.Prompts, r.NextCursor));
        }

        if (parts.HasFlag(CatalogParts.Resources))
        {
            resources = caps.Resources is null ? [] : await ListAllAsync(cursor => source.ListResourcesAsync(cursor, ct), r => (r.Resources, r.NextCursor));
            templates = caps.Resources is null ? [] : await ListAllAsync(cursor => source.ListResourceTemplatesAsync(cursor, ct), r => (r.ResourceTemplates, r.NextCursor));
        }

        return new BackendCatalog(tools, prompts, resources, templates);
    }

    /// <summary>Lists <paramref name="parts"/> of a live backend client.</summary>
    public static Task<BackendCatalog> LoadAsync(McpClient client, CatalogParts parts, BackendCatalog previous, CancellationToken ct) =>
        LoadAsync(new McpClientCatalogSource(client), parts, previous, ct);

    /// <summary>
    /// The backend notifications that trigger a refresh, and the part each one refreshes: a backend's client gets one
    /// handler per <c>list_changed</c> calling <paramref name="refresh"/> with that part.
    /// </summary>
    public static KeyValuePair<string, Func<JsonRpcNotification, CancellationToken, ValueTask>>[] ListChangedHandlers(
        Func<CatalogParts, CancellationToken, ValueTask> refresh) =>
    [
        new(NotificationMethods.ToolListChangedNotification, (_, ct) => refresh(CatalogParts.Tools, ct)),
        new(NotificationMethods.PromptListChangedNotification, (_, ct) => refresh(CatalogParts.Prompts, ct)),
        new(NotificationMethods.ResourceListChangedNotification, (_, ct) => refresh(CatalogParts.Resources, ct)),
    ];

    private static async Task<IReadOnlyList<T>> ListAllAsync<TResult, T>(Func<string?, Task<TResult>> list, Func<TResult, (IList<T> Items, string? Next)> page)
    {
        var all = new List<T>();
        string? cursor = null;
        for (var pages = 0; pages < MaxPages; pages++)
        {
            var (items, next) = page(await list(cursor));
            all.AddRange(items);
            if (string.IsNullOrEmpty(next))
            {
                break;
            }

            cursor = next;
        }

        return all;
    }
}
