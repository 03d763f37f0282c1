using ModelContextProtocol.Protocol;

namespace McpProxy.Backends;

/// <summary>What one backend offers, as last listed from it (original, un-namespaced names).</summary>
internal sealed record BackendCatalog(
    IReadOnlyList<Tool> Tools,
    IReadOnlyList<Prompt> Prompts,
    IReadOnlyList<Resource> Resources,
    IReadOnlyList<ResourceTemplate> ResourceTemplates)
{
    public static readonly BackendCatalog Empty = new([], [], [], []);
}

/// <summary>Health of a backend connection as the proxy sees it.</summary>
internal enum BackendState
{
    /// <summary>Starting or reconnecting; no client yet.</summary>
    Connecting,
    /// <summary>Initialized; its catalog is served.</summary>
    Ready,
    /// <summary>Failed to start or lost; the proxy retries with backoff and serves the rest.</summary>
    Unavailable,
    /// <summary>Stopped by the proxy (shutdown).</summary>
    Stopped,
}

/// <summary>Which list of a backend changed.</summary>
[Flags]
internal enum CatalogParts
{
    None = 0,
    Tools = 1,
    Prompts = 2,
    Resources = 4,
    All = Tools | Prompts | Resources,
}
