using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Nodes;
using McpProxy.Backends;
using McpProxy.Configuration;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpProxy.Routing;

/// <summary>A namespaced tool and where it routes.</summary>
internal sealed record RoutedTool(BackendRoute Route, string OriginalName, Tool Tool)
{
    public BackendConnection Backend => Route.Backend;

    /// <summary>
    /// Whether a call may be retried or hedged: <c>non_idempotent_tools</c> says never, <c>idempotent_tools</c> says
    /// always, otherwise the backend's annotations decide (<c>readOnlyHint</c> or <c>idempotentHint</c>).
    /// </summary>
    public bool Repeatable { get; } =
        Route.NonIdempotentTools?.IsAllowed(OriginalName) != true
        && (Route.IdempotentTools?.IsAllowed(OriginalName) == true
            || Tool.Annotations?.ReadOnlyHint == true
            || Tool.Annotations?.IdempotentHint == true);

    /// <summary>
    /// How long a successful result may be cached: <c>[backends.cache] tool_ttl_seconds</c>, for exactly the tools
    /// listed in <c>cache_tools</c> when that key is set (an explicit choice, which may include tools that are not
    /// read-only), otherwise for the tools annotated <c>readOnlyHint</c>; other tools are never cached.
    /// </summary>
    public TimeSpan? CacheTtl { get; } =
        Route.Backend.Config.Cache is { ToolTtlSeconds: > 0 } cache
        && (Route.CacheTools is { } listed ? listed.IsAllowed(OriginalName) : Tool.Annotations?.ReadOnlyHint == true)
            ? TimeSpan.FromSeconds(cache.ToolTtlSeconds)
            : null;
}

/// <summary>A namespaced prompt and where it routes.</summary>
internal sealed record RoutedPrompt(BackendConnection Backend, string OriginalName, Prompt Prompt);

/// <summary>The per-backend routing rules derived from config once: filters, aliases, argument injection.</summary>
internal sealed class BackendRoute
{
    public BackendRoute(BackendConnection backend)
    {
        var c = backend.Config;
        Backend = backend;
        Tools = ItemFilter.Create(c.ExposeTools, c.HideTools);
        Prompts = ItemFilter.Create(c.ExposePrompts, c.HidePrompts);
        Resources = ItemFilter.Create(c.ExposeResources, c.HideResources, prefixMatch: true);
        AliasOf = c.Aliases.ToFrozenDictionary(a => a.From, a => a.To, StringComparer.Ordinal);
        Injector = new ArgumentInjector(c);
        IdempotentTools = c.IdempotentTools is null ? null : ItemFilter.Create(c.IdempotentTools, null);
        NonIdempotentTools = c.NonIdempotentTools is null ? null : ItemFilter.Create(c.NonIdempotentTools, null);
        CacheTools = c.Cache is { CacheTools.Count: > 0 } cache ? ItemFilter.Create(cache.CacheTools, null) : null;
    }

    public BackendConnection Backend { get; }
    public ItemFilter Tools { get; }
    public ItemFilter Prompts { get; }
    public ItemFilter Resources { get; }
    /// <summary>Backend tool name → exposed (aliased) name.</summary>
    public FrozenDictionary<string, string> AliasOf { get; }
    public ArgumentInjector Injector { get; }
    public ItemFilter? IdempotentTools { get; }
    public ItemFilter? NonIdempotentTools { get; }
    public ItemFilter? CacheTools { get; }
}

/// <summary>An immutable view of everything the proxy serves, rebuilt whenever a backend's catalog changes.</summary>
internal sealed class CatalogSnapshot
{
    public static readonly CatalogSnapshot Empty = new([], [], [], [], FrozenDictionary<string, RoutedTool>.Empty, FrozenDictionary<string, RoutedPrompt>.Empty);

    public CatalogSnapshot(
        IList<Tool> tools,
        IList<Prompt> prompts,
        IList<Resource> resources,
        IList<ResourceTemplate> templates,
        FrozenDictionary<string, RoutedTool> toolsByName,
        FrozenDictionary<string, RoutedPrompt> promptsByName)
    {
        Tools = tools;
        Prompts = prompts;
        Resources = resources;
        ResourceTemplates = templates;
        ToolsByName = toolsByName;
        PromptsByName = promptsByName;
    }

    public IList<Tool> Tools { get; }
    public IList<Prompt> Prompts { get; }
    public IList<Resource> Resources { get; }
    public IList<ResourceTemplate> ResourceTemplates { get; }
    public FrozenDictionary<string, RoutedTool> ToolsByName { get; }
    public FrozenDictionary<string, RoutedPrompt> PromptsByName { get; }
}

/// <summary>
/// Routing: the aggregate, namespaced catalog. Tools and prompts are exposed as <c>{backend}{separator}{name}</c>
/// (after aliasing); resource and template URIs as <c>{backend}{separator}{original-uri}</c> — backend names never
/// contain the separator, so the text before the first separator names the backend and the rest is the original
/// URI, recoverable byte for byte.
/// </summary>
internal sealed class ProxyCatalog(ProxyConfig config)
{
    private readonly Lock _gate = new();
    private volatile CatalogSnapshot _snapshot = CatalogSnapshot.Empty;
    private FrozenDictionary<string, BackendRoute> _routes = FrozenDictionary<string, BackendRoute>.Empty;
    private BackendRoute[] _ordered = [];
    private BackendRoute? _passthrough;

    public string Separator { get; } = config.Proxy.Separator;
    public CatalogSnapshot Current => _snapshot;

    /// <summary>The routed backends, in config order.</summary>
    public IEnumerable<BackendConnection> Backends => Volatile.Read(ref _ordered).Select(r => r.Backend);

    public void SetBackends(IEnumerable<BackendConnection> backends)
    {
        lock (_gate)
        {
            _ordered = [.. backends.Select(b => new BackendRoute(b))];
            _routes = _ordered.ToFrozenDictionary(r => r.Backend.Name, StringComparer.Ordinal);
            _passthrough = _ordered.FirstOrDefault(r => !r.Backend.Config.Namespaced);
        }

        Rebuild();
    }

    /// <summary>Splits a namespaced name or URI into its backend route and the original name/URI.</summary>
    /// <remarks>A name no namespaced backend claims belongs to the <c>namespaced = false</c> backend, unchanged.</remarks>
    public bool TrySplit(string namespaced, out BackendRoute route, out string original)
    {
        var i = namespaced.IndexOf(Separator, StringComparison.Ordinal);
        if (i > 0 && _routes.TryGetValue(namespaced[..i], out route!) && route.Backend.Config.Namespaced)
        {
            original = namespaced[(i + Separator.Length)..];
            return true;
        }

        if (_passthrough is { } passthrough)
        {
            route = passthrough;
            original = namespaced;
            return true;
        }

        route = null!;
        original = "";
        return false;
    }

    public string Namespace(string backend, string name) =>
        _passthrough is { } passthrough && passthrough.Backend.Name == backend ? name : backend + Separator + name;

    /// <summary>
    /// A tool the catalog does not list, for the <c>namespaced = false</c> backend: forwarded unchanged so the backend
    /// answers as it would directly — unless the name is hidden or renamed by an alias there.
    /// </summary>
    public bool TryPassthroughTool(string name, out RoutedTool routed)
    {
        if (_passthrough is { } route && route.Backend.State == BackendState.Ready && route.Tools.IsAllowed(name) && !route.AliasOf.ContainsKey(name))
        {
            routed = new RoutedTool(route, name, new Tool { Name = name, InputSchema = JsonSerializer.SerializeToElement(new JsonObject { ["type"] = "object" }) });
            return true;
        }

        routed = null!;
        return false;
    }

    /// <summary>Like <see cref="TryPassthroughTool"/>, for prompts.</summary>
    public bool TryPassthroughPrompt(string name, out RoutedPrompt routed)
    {
        if (_passthrough is { } route && route.Backend.State == BackendState.Ready && route.Prompts.IsAllowed(name))
        {
            routed = new RoutedPrompt(route.Backend, name, new Prompt { Name = name });
            return true;
        }

        routed = null!;
        return false;
    }

    public void Rebuild()
    {
        lock (_gate)
        {
            var tools = new List<Tool>();
            var prompts = new List<Prompt>();
            var resources = new List<Resource>();
            var templates = new List<ResourceTemplate>();
            var toolsByName = new Dictionary<string, RoutedTool>(StringComparer.Ordinal);
            var promptsByName = new Dictionary<string, RoutedPrompt>(StringComparer.Ordinal);

            // Config order, so listings are stable.
            foreach (var route in _ordered)
            {
                if (route.Backend.State != BackendState.Ready)
                {
                    continue;
                }

                var catalog = route.Backend.Catalog;
                foreach (var tool in catalog.Tools)
                {
                    if (!route.Tools.IsAllowed(tool.Name))
                    {
                        continue;
                    }

                    var exposed = Namespace(route.Backend.Name, route.AliasOf.GetValueOrDefault(tool.Name, tool.Name));
                    var copy = CloneWith(tool, "name", exposed);
                    if (toolsByName.TryAdd(exposed, new RoutedTool(route, tool.Name, copy)))
                    {
                        tools.Add(copy);
                    }
                }

                foreach (var prompt in catalog.Prompts)
                {
                    if (!route.Prompts.IsAllowed(prompt.Name))
                    {
                        continue;
                    }

                    var exposed = Namespace(route.Backend.Name, prompt.Name);
                    var copy = CloneWith(prompt, "name", exposed);
                    if (promptsByName.TryAdd(exposed, new RoutedPrompt(route.Backend, prompt.Name, copy)))
                    {
                        prompts.Add(copy);
                    }
                }

                foreach (var resource in catalog.Resources)
                {
                    if (route.Resources.IsAllowed(resource.Uri))
                    {
                        resources.Add(CloneWith(resource, "uri", Namespace(route.Backend.Name, resource.Uri)));
                    }
                }

                foreach (var template in catalog.ResourceTemplates)
                {
                    if (route.Resources.IsAllowed(template.UriTemplate))
                    {
                        templates.Add(CloneWith(template, "uriTemplate", Namespace(route.Backend.Name, template.UriTemplate)));
                    }
                }
            }

            _snapshot = new CatalogSnapshot(tools, prompts, resources, templates, toolsByName.ToFrozenDictionary(StringComparer.Ordinal), promptsByName.ToFrozenDictionary(StringComparer.Ordinal));
        }
    }

    /// <summary>Copies a protocol item through JSON with one property replaced, so every field the backend sent is kept.</summary>
    private static T CloneWith<T>(T item, string property, string value)
    {
        var node = (JsonObject)JsonSerializer.SerializeToNode(item, McpJsonUtilities.DefaultOptions)!;
        node[property] = value;
        return node.Deserialize<T>(McpJsonUtilities.DefaultOptions)!;
    }
}
