using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace McpProxy.Backends;

/// <summary>
/// What the backends report to the layers above them, which subscribe at startup (their DI code configures
/// <c>IOptions&lt;BackendEvents&gt;</c>, which <see cref="BackendRegistry"/> reads before it starts any backend): Routing
/// rebuilds its catalog, Sessions relay notifications to clients, Mirroring learns its mirrors. Backends reference none
/// of them. Ordering: a backend's catalog is published (<see cref="CatalogChanged"/>, then <see cref="ListChanged"/>)
/// before it is <see cref="Ready"/>; <see cref="MessageRead"/> is raised in read order, before the client dispatches the
/// message (so progress is relayed before the result it precedes).
/// </summary>
internal sealed class BackendEvents
{
    /// <summary>The set of backends changed (startup, hot reload): the routed ones and the mirrors (<c>mirror_of</c>).</summary>
    public event Action<IReadOnlyList<BackendConnection>, IReadOnlyList<BackendConnection>>? BackendsChanged;

    /// <summary>A routed backend's catalog changed (listed, refreshed on <c>list_changed</c>, or withdrawn when it went away).</summary>
    public event Action<BackendConnection, CatalogParts>? CatalogChanged;

    /// <summary>Raised after <see cref="CatalogChanged"/> or <see cref="BackendsChanged"/> was handled: clients should re-list these parts.</summary>
    public event Action<CatalogParts>? ListChanged;

    /// <summary>A backend has just become ready (after its catalog was published).</summary>
    public event Action<BackendConnection>? Ready;

    /// <summary>
    /// A message from a backend, in read order, before its client dispatches it: progress, log messages and
    /// resources/updated are relayed from here, knowing which backend sent them.
    /// </summary>
    public event Action<BackendConnection, JsonRpcMessage>? MessageRead;

    /// <summary>The log level backends are asked for (<c>logging/setLevel</c>) when they connect; info when unset.</summary>
    public Func<LoggingLevel>? BackendLogLevel { get; set; }

    /// <summary>The only connected client session, if there is exactly one (<c>roots/list</c> outside any call).</summary>
    public Func<McpServer?>? SoleSession { get; set; }

    internal LoggingLevel CurrentLogLevel => BackendLogLevel?.Invoke() ?? LoggingLevel.Info;

    internal McpServer? CurrentSoleSession() => SoleSession?.Invoke();

    internal void OnBackendsChanged(IReadOnlyList<BackendConnection> backends, IReadOnlyList<BackendConnection> mirrors, bool announce)
    {
        BackendsChanged?.Invoke(backends, mirrors);
        if (announce)
        {
            ListChanged?.Invoke(CatalogParts.All);
        }
    }

    internal void OnCatalogChanged(BackendConnection backend, CatalogParts parts)
    {
        if (backend.Config.MirrorOf is not null)
        {
            return; // mirrors are never listed
        }

        // The routing view first, then the clients: one that re-lists on list_changed sees the new catalog.
        CatalogChanged?.Invoke(backend, parts);
        ListChanged?.Invoke(parts);
    }

    internal void OnReady(BackendConnection backend) => Ready?.Invoke(backend);

    internal void OnMessageRead(BackendConnection backend, JsonRpcMessage message) => MessageRead?.Invoke(backend, message);
}
