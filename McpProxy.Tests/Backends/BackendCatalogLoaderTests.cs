using McpProxy.Backends;
using McpProxy.Tests.Infrastructure;
using ModelContextProtocol.Protocol;

namespace McpProxy.Tests.Backends;

/// <summary><see cref="BackendCatalogLoader"/>: paging, partial refresh and capabilities, against a fake backend.</summary>
public sealed class BackendCatalogLoaderTests
{
    private static CancellationToken Ct => TestContext.Timeout(10);

    [Fact]
    public async Task Every_page_of_every_list_is_read_in_order()
    {
        var source = new FakeSource(pages: 3);

        var catalog = await BackendCatalogLoader.LoadAsync(source, CatalogParts.All, BackendCatalog.Empty, Ct);

        Assert.Equal(["t0", "t1", "t2"], catalog.Tools.Select(t => t.Name));
        Assert.Equal(["p0", "p1", "p2"], catalog.Prompts.Select(p => p.Name));
        Assert.Equal(["r0", "r1", "r2"], catalog.Resources.Select(r => r.Name));
        Assert.Equal(["rt0", "rt1", "rt2"], catalog.ResourceTemplates.Select(r => r.Name));
        Assert.Equal([null, "1", "2"], source.ToolCursors);
    }

    [Fact]
    public async Task A_refresh_lists_only_its_part_and_keeps_the_others()
    {
        var previous = await BackendCatalogLoader.LoadAsync(new FakeSource(pages: 1), CatalogParts.All, BackendCatalog.Empty, Ct);
        var source = new FakeSource(pages: 2);

        var catalog = await BackendCatalogLoader.LoadAsync(source, CatalogParts.Tools, previous, Ct);

        Assert.Equal(["t0", "t1"], catalog.Tools.Select(t => t.Name));
        Assert.Same(previous.Prompts, catalog.Prompts);
        Assert.Same(previous.Resources, catalog.Resources);
        Assert.Same(previous.ResourceTemplates, catalog.ResourceTemplates);
        Assert.Equal(0, source.PromptCalls);
    }

    [Fact]
    public async Task A_list_the_backend_does_not_offer_is_empty_and_not_asked_for()
    {
        var source = new FakeSource(pages: 1) { Capabilities = new ServerCapabilities { Tools = new ToolsCapability() } };

        var catalog = await BackendCatalogLoader.LoadAsync(source, CatalogParts.All, BackendCatalog.Empty, Ct);

        Assert.Single(catalog.Tools);
        Assert.Empty(catalog.Prompts);
        Assert.Empty(catalog.Resources);
        Assert.Empty(catalog.ResourceTemplates);
        Assert.Equal(0, source.PromptCalls);
    }

    [Fact]
    public async Task A_backend_returning_cursors_forever_is_read_up_to_the_page_bound()
    {
        var source = new FakeSource(pages: int.MaxValue);

        var catalog = await BackendCatalogLoader.LoadAsync(source, CatalogParts.Tools, BackendCatalog.Empty, Ct);

        Assert.Equal(BackendCatalogLoader.MaxPages, catalog.Tools.Count);
    }

    [Fact]
    public async Task Each_list_changed_notification_refreshes_its_part()
    {
        var refreshed = new List<CatalogParts>();
        var handlers = BackendCatalogLoader.ListChangedHandlers((parts, _) => { refreshed.Add(parts); return default; });

        foreach (var (method, handler) in handlers)
        {
            await handler(new JsonRpcNotification { Method = method }, Ct);
        }

        Assert.Equal(
            [NotificationMethods.ToolListChangedNotification, NotificationMethods.PromptListChangedNotification, NotificationMethods.ResourceListChangedNotification],
            handlers.Select(h => h.Key));
        Assert.Equal([CatalogParts.Tools, CatalogParts.Prompts, CatalogParts.Resources], refreshed);
    }

    /// <summary>A backend whose every list has <c>pages</c> pages of one item each; cursors are page numbers.</summary>
    private sealed class FakeSource(int pages) : ICatalogSource
    {
        public ServerCapabilities Capabilities { get; init; } = new()
        {
            Tools = new ToolsCapability(),
            Prompts = new PromptsCapability(),
            Resources = new ResourcesCapability(),
        };

        public List<string?> ToolCursors { get; } = [];

        public int PromptCalls { get; private set; }

        public Task<ListToolsResult> ListToolsAsync(string? cursor, CancellationToken cancellationToken)
        {
            ToolCursors.Add(cursor);
            var (page, next) = Page(cursor);
            return Task.FromResult(new ListToolsResult { Tools = [new Tool { Name = $"t{page}" }], NextCursor = next });
        }

        public Task<ListPromptsResult> ListPromptsAsync(string? cursor, CancellationToken cancellationToken)
        {
            PromptCalls++;
            var (page, next) = Page(cursor);
            return Task.FromResult(new ListPromptsResult { Prompts = [new Prompt { Name = $"p{page}" }], NextCursor = next });
        }

        public Task<ListResourcesResult> ListResourcesAsync(string? cursor, CancellationToken cancellationToken)
        {
            var (page, next) = Page(cursor);
            return Task.FromResult(new ListResourcesResult { Resources = [new Resource { Name = $"r{page}", Uri = $"test://r/{page}" }], NextCursor = next });
        }

        public Task<ListResourceTemplatesResult> ListResourceTemplatesAsync(string? cursor, CancellationToken cancellationToken)
        {
            var (page, next) = Page(cursor);
            return Task.FromResult(new ListResourceTemplatesResult { ResourceTemplates = [new ResourceTemplate { Name = $"rt{page}", UriTemplate = $"test://rt/{page}/{{x}}" }], NextCursor = next });
        }

        private (int Page, string? Next) Page(string? cursor)
        {
            var page = cursor is null ? 0 : int.Parse(cursor, System.Globalization.CultureInfo.InvariantCulture);
            return (page, page + 1 < pages ? (page + 1).ToString(System.Globalization.CultureInfo.InvariantCulture) : null);
        }
    }
}
