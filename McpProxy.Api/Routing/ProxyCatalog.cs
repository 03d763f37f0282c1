using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Nodes;
using McpProxy.Backends;
using McpProxy.Configuration;
using McpProxy.Eras;
using McpProxy.Security;
using Microsoft.Extensions.Logging;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpProxy.Routing;

/// <summary>A namespaced tool and where it routes.</summary>
/// <remarks>
/// <paramref name="Canonical"/>: the name as config spells it (<c>{backend}{separator}{name}</c>), which roles decide
/// on; null when it is the exposed name itself.
/// </remarks>
internal sealed record RoutedTool(BackendRoute Route, string OriginalName, Tool Tool, string? Canonical = null)
{
    public BackendConnection Backend => Route.Backend;

    /// <summary>The name roles and filters decide on, whatever the name policy exposes (<see cref="NamePolicy"/>).</summary>
    public string CanonicalName => Canonical ?? Tool.Name;

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

    /// <summary>
    /// Whether a call may take the fast path (README "Fast path"): its arguments go to the backend as the caller sent
    /// them — no argument is injected and none is carried in an <c>Mcp-Param-*</c> header — so the typed model is not needed.
    /// </summary>
    public bool SendsArgumentsAsIs { get; } = !Route.Injector.AppliesTo(OriginalName) && !McpParamHeaders.Annotates(Tool.InputSchema);
}

/// <summary>A namespaced prompt and where it routes.</summary>
internal sealed record RoutedPrompt(BackendConnection Backend, string OriginalName, Prompt Prompt, string? Canonical = null)
{
    /// <summary>The name roles decide on, whatever the name policy exposes (<see cref="NamePolicy"/>).</summary>
    public string CanonicalName => Canonical ?? Prompt.Name;
}

/// <summary>The per-backend routing rules derived from config once: filters, aliases, argument injection.</summary>
internal sealed class BackendRoute
{
    public BackendRoute(BackendConnection backend)
    {
        var c = backend.Config;
        Backend = backend;
        Tools = ItemFilter.Create(c.ExposeTools, c.HideTools);
        Prompts = ItemFilter.Create(c.ExposePrompts, c.HidePrompts);
        // Patterns are compared with normalized URIs, so they are normalized too (file://localhost/x = file:///x).
        Resources = ItemFilter.Create(
            c.ExposeResources?.Select(ResourceUri.ForPolicy).ToList(), c.HideResources?.Select(ResourceUri.ForPolicy).ToList(), prefixMatch: true);
        AliasOf = c.Aliases.ToFrozenDictionary(a => a.From, a => a.To, StringComparer.Ordinal);
        Injector = new ArgumentInjector(c);
        IdempotentTools = c.IdempotentTools is null ? null : ItemFilter.Create(c.IdempotentTools, null);
        NonIdempotentTools = c.NonIdempotentTools is null ? null : ItemFilter.Create(c.NonIdempotentTools, null);
        CacheTools = c.Cache is { CacheTools.Count: > 0 } cache ? ItemFilter.Create(cache.CacheTools, null) : null;
        ResourceCacheTtl = c.Cache is { ResourceTtlSeconds: > 0 } resourceCache ? TimeSpan.FromSeconds(resourceCache.ResourceTtlSeconds) : null;
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

    /// <summary>
    /// How long a successful <c>resources/read</c> may be cached: <c>[backends.cache] resource_ttl_seconds</c>; null:
    /// not cached. (A tool's TTL: <see cref="RoutedTool.CacheTtl"/>; prompts and completions are never cached.)
    /// </summary>
    public TimeSpan? ResourceCacheTtl { get; }
}

/// <summary>An immutable view of everything the proxy serves, rebuilt whenever a backend's catalog changes.</summary>
internal sealed class CatalogSnapshot
{
    public static readonly CatalogSnapshot Empty = new([], [], [], [], [], [], FrozenDictionary<string, RoutedTool>.Empty, FrozenDictionary<string, RoutedPrompt>.Empty);

    public CatalogSnapshot(
        IList<Tool> tools,
        IList<Prompt> prompts,
        IList<Resource> resources,
        IList<string> resourcePolicyUris,
        IList<ResourceTemplate> templates,
        IList<string> templatePolicyUris,
        FrozenDictionary<string, RoutedTool> toolsByName,
        FrozenDictionary<string, RoutedPrompt> promptsByName)
    {
        Tools = tools;
        Prompts = prompts;
        Resources = resources;
        ResourcePolicyUris = resourcePolicyUris;
        ResourceTemplates = templates;
        TemplatePolicyUris = templatePolicyUris;
        ToolsByName = toolsByName;
        PromptsByName = promptsByName;
    }

    public IList<Tool> Tools { get; }
    public IList<Prompt> Prompts { get; }
    public IList<Resource> Resources { get; }
    /// <summary>For each of <see cref="Resources"/>, the namespaced URI RBAC decides on (normalized, <see cref="ResourceUri"/>).</summary>
    public IList<string> ResourcePolicyUris { get; }
    public IList<ResourceTemplate> ResourceTemplates { get; }
    /// <summary>For each of <see cref="ResourceTemplates"/>, the namespaced template RBAC decides on (normalized).</summary>
    public IList<string> TemplatePolicyUris { get; }
    public FrozenDictionary<string, RoutedTool> ToolsByName { get; }
    public FrozenDictionary<string, RoutedPrompt> PromptsByName { get; }
}

/// <summary>
/// Routing: the aggregate, namespaced catalog. Tools and prompts are exposed as <c>{backend}{separator}{name}</c>
/// (after aliasing) as the name policy writes it (<see cref="NamePolicy"/>: length and character set, with the reverse
/// map kept here: <see cref="CatalogSnapshot.ToolsByName"/>); resource <c>name</c> fields the same way; resource and
/// template URIs as <c>{backend}{separator}{original-uri}</c> — backend names never
/// contain the separator, so the text before the first separator names the backend and the rest is the original
/// URI, recoverable byte for byte.
/// </summary>
/// <remarks>
/// The <c>namespaced = false</c> backend cannot publish a tool, prompt or resource whose name starts with another
/// backend's <c>{name}{separator}</c>: such items are left out (with a warning naming both backends) and names in
/// another backend's namespace are never passed through to it.
/// </remarks>
internal sealed partial class ProxyCatalog(ProxyConfig config, ILogger<ProxyCatalog> logger)
{
    private readonly Lock _gate = new();
    private volatile CatalogSnapshot _snapshot = CatalogSnapshot.Empty;
    private FrozenDictionary<string, BackendRoute> _routes = FrozenDictionary<string, BackendRoute>.Empty;
    private BackendRoute[] _ordered = [];
    private BackendRoute? _passthrough;
    private (string Prefix, string Backend)[] _namespacePrefixes = [];
    private readonly HashSet<string> _shadowWarnings = new(StringComparer.Ordinal);
    private readonly HashSet<string> _renameLogged = new(StringComparer.Ordinal);

    public string Separator { get; } = config.Proxy.Separator;
    public NamePolicy Names { get; } = new(config.Proxy.Names, config.Proxy.Separator);
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
            // Both spellings of a namespace: as config writes it and as the name policy exposes it.
            _namespacePrefixes = [.. _ordered.Where(r => r.Backend.Config.Namespaced)
                .SelectMany(r => new[] { (r.Backend.Name + Separator, r.Backend.Name), (r.Backend.Name + Names.ExposedSeparator, r.Backend.Name) })
                .Distinct()];
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

    /// <summary>
    /// Like <see cref="TrySplit"/> for an exposed tool or prompt name, which may use the name policy's separator: the
    /// namespaced backend it belongs to, if any (for error messages; routing goes through the catalog's maps).
    /// </summary>
    public bool TryOwnerOfName(string name, out BackendRoute route)
    {
        if (NamespaceOwner(name) is { } owner && _routes.TryGetValue(owner, out route!))
        {
            return true;
        }

        route = null!;
        return false;
    }

    public string Namespace(string backend, string name) =>
        _passthrough is { } passthrough && passthrough.Backend.Name == backend ? name : backend + Separator + name;

    /// <summary>The name policy's exposed name for an item of <paramref name="route"/>.</summary>
    private string Expose(BackendRoute route, string name, bool longHash = false) =>
        Names.Expose(route.Backend.Config.Namespaced ? route.Backend.Name : null, name, longHash);

    /// <summary>
    /// Adds an item under its exposed name; when another item already has that name (only possible for a rewritten
    /// name, or a backend name that looks like one), the later item gets the long hash suffix, so no two items share a
    /// name. A second item with the same canonical name (an alias onto an existing tool) is left out, as before.
    /// </summary>
    private bool TryClaim<T>(Dictionary<string, T> byName, BackendRoute route, string name, string canonical, Func<T, string> canonicalOf, Func<string, T> create, string kind, out string exposed, out T added)
    {
        exposed = Expose(route, name);
        if (byName.TryGetValue(exposed, out var existing))
        {
            if (canonicalOf(existing) == canonical)
            {
                added = default!;
                return false;
            }

            exposed = Expose(route, name, longHash: true);
            if (byName.ContainsKey(exposed))
            {
                LogNameCollision(logger, route.Backend.Name, kind, canonical, exposed);
                added = default!;
                return false;
            }
        }

        added = create(exposed);
        byName.Add(exposed, added);
        // Logged: the rewrites a reader cannot work out from the rule (cut or hashed), once each; all are at /admin/names.
        if (exposed != Names.Natural(route.Backend.Config.Namespaced ? route.Backend.Name : null, name) && _renameLogged.Add(kind + "\n" + canonical + "\n" + exposed))
        {
            LogRenamed(logger, kind, canonical, exposed);
        }

        return true;
    }

    /// <summary>Every tool and prompt whose exposed name differs from its canonical name (for <c>/admin/names</c>).</summary>
    public IReadOnlyList<(string Kind, string Canonical, string Exposed)> Rewrites()
    {
        var snapshot = _snapshot;
        return
        [
            .. snapshot.ToolsByName.Where(p => p.Key != p.Value.CanonicalName).Select(p => ("tool", p.Value.CanonicalName, p.Key)).OrderBy(r => r.Item3, StringComparer.Ordinal),
            .. snapshot.PromptsByName.Where(p => p.Key != p.Value.CanonicalName).Select(p => ("prompt", p.Value.CanonicalName, p.Key)).OrderBy(r => r.Item3, StringComparer.Ordinal),
        ];
    }

    /// <summary>
    /// A tool the catalog does not list, for the <c>namespaced = false</c> backend: forwarded unchanged so the backend
    /// answers as it would directly — unless the name is hidden or renamed by an alias there.
    /// </summary>
    public bool TryPassthroughTool(string name, out RoutedTool routed)
    {
        if (_passthrough is { } route && route.Backend.State == BackendState.Ready && route.Tools.IsAllowed(name) && !route.AliasOf.ContainsKey(name)
            && NamespaceOwner(name) is null)
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
        if (_passthrough is { } route && route.Backend.State == BackendState.Ready && route.Prompts.IsAllowed(name) && NamespaceOwner(name) is null)
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
            var resourcePolicyUris = new List<string>();
            var templates = new List<ResourceTemplate>();
            var templatePolicyUris = new List<string>();
            var toolsByName = new Dictionary<string, RoutedTool>(StringComparer.Ordinal);
            var promptsByName = new Dictionary<string, RoutedPrompt>(StringComparer.Ordinal);

            // Config order, so listings are stable.
            foreach (var route in _ordered)
            {
                // A backend's catalog is what it serves: empty while it is down, published before it is marked ready
                // (so its items route, and answer "unavailable, retry", from the moment it is back).
                if (route.Backend.State == BackendState.Stopped)
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

                    var name = route.AliasOf.GetValueOrDefault(tool.Name, tool.Name);
                    var canonical = Namespace(route.Backend.Name, name);
                    if (Shadows(route, "tool", canonical) || Shadows(route, "tool", Expose(route, name)))
                    {
                        continue;
                    }

                    if (TryClaim(toolsByName, route, name, canonical, t => t.CanonicalName,
                        exposed => new RoutedTool(route, tool.Name, CloneWith(tool, "name", exposed), canonical), "tool", out _, out var routed))
                    {
                        tools.Add(routed.Tool);
                    }
                }

                foreach (var prompt in catalog.Prompts)
                {
                    if (!route.Prompts.IsAllowed(prompt.Name))
                    {
                        continue;
                    }

                    var canonical = Namespace(route.Backend.Name, prompt.Name);
                    if (Shadows(route, "prompt", canonical) || Shadows(route, "prompt", Expose(route, prompt.Name)))
                    {
                        continue;
                    }

                    if (TryClaim(promptsByName, route, prompt.Name, canonical, p => p.CanonicalName,
                        exposed => new RoutedPrompt(route.Backend, prompt.Name, CloneWith(prompt, "name", exposed), canonical), "prompt", out _, out var routed))
                    {
                        prompts.Add(routed.Prompt);
                    }
                }

                // Filters decide on the normalized URI; the listing keeps the backend's own spelling.
                foreach (var resource in catalog.Resources)
                {
                    var policyUri = ResourceUri.ForPolicy(resource.Uri);
                    var exposed = Namespace(route.Backend.Name, resource.Uri);
                    if (route.Resources.IsAllowed(policyUri) && !Shadows(route, "resource", exposed))
                    {
                        // The name is namespaced too (so two backends' "info" are told apart), by the same policy.
                        resources.Add(CloneWith(CloneWith(resource, "uri", exposed), "name", Expose(route, resource.Name)));
                        resourcePolicyUris.Add(Namespace(route.Backend.Name, policyUri));
                    }
                }

                foreach (var template in catalog.ResourceTemplates)
                {
                    var policyUri = ResourceUri.ForPolicy(template.UriTemplate);
                    var exposed = Namespace(route.Backend.Name, template.UriTemplate);
                    if (route.Resources.IsAllowed(policyUri) && !Shadows(route, "resource template", exposed))
                    {
                        templates.Add(CloneWith(CloneWith(template, "uriTemplate", exposed), "name", Expose(route, template.Name)));
                        templatePolicyUris.Add(Namespace(route.Backend.Name, policyUri));
                    }
                }
            }

            _snapshot = new CatalogSnapshot(tools, prompts, resources, resourcePolicyUris, templates, templatePolicyUris, toolsByName.ToFrozenDictionary(StringComparer.Ordinal), promptsByName.ToFrozenDictionary(StringComparer.Ordinal));
        }
    }

    /// <summary>The namespaced backend whose <c>{name}{separator}</c> starts <paramref name="name"/>, if any.</summary>
    private string? NamespaceOwner(string name)
    {
        foreach (var (prefix, backend) in _namespacePrefixes)
        {
            if (name.StartsWith(prefix, StringComparison.Ordinal))
            {
                return backend;
            }
        }

        return null;
    }

    /// <summary>
    /// Whether an item of the <c>namespaced = false</c> backend would sit in another backend's namespace (then it is
    /// left out, with a warning once per item).
    /// </summary>
    private bool Shadows(BackendRoute route, string kind, string exposed)
    {
        if (route.Backend.Config.Namespaced || NamespaceOwner(exposed) is not { } owner)
        {
            return false;
        }

        if (_shadowWarnings.Add($"{route.Backend.Name}\n{kind}\n{exposed}"))
        {
            LogShadowed(logger, route.Backend.Name, kind, exposed, owner);
        }

        return true;
    }

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Backend '{Backend}' (namespaced = false) publishes the {Kind} '{Name}' in the namespace of backend '{Owner}'; it is left out of the catalog and cannot be called")]
    private static partial void LogShadowed(ILogger logger, string backend, string kind, string name, string owner);

    [LoggerMessage(Level = LogLevel.Information, Message = "Name policy: {Kind} '{Canonical}' is exposed as '{Exposed}'")]
    private static partial void LogRenamed(ILogger logger, string kind, string canonical, string exposed);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Backend '{Backend}': the {Kind} '{Canonical}' would be exposed as '{Exposed}', which another item already has; it is left out of the catalog")]
    private static partial void LogNameCollision(ILogger logger, string backend, string kind, string canonical, string exposed);

    /// <summary>Copies a protocol item through JSON with one property replaced, so every field the backend sent is kept.</summary>
    private static T CloneWith<T>(T item, string property, string value)
    {
        var node = (JsonObject)JsonSerializer.SerializeToNode(item, McpJsonUtilities.DefaultOptions)!;
        node[property] = value;
        return node.Deserialize<T>(McpJsonUtilities.DefaultOptions)!;
    }
}
