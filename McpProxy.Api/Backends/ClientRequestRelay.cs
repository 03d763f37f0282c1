using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using McpProxy.Mrtr;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace McpProxy.Backends;

/// <summary>
/// Relays a backend's server→client requests (<c>sampling/createMessage</c>, <c>elicitation/create</c>,
/// <c>roots/list</c>) to the client on whose behalf the backend is working. The backend session is shared by every
/// client, and the MCP client API does not say which outgoing call a server request belongs to, so the relay keeps the
/// client sessions with calls in flight on this backend: when they are all one session, the request goes to it (over
/// that call's own response stream); otherwise it is refused with an error that says why. <c>roots/list</c> outside any
/// call goes to the only connected client session, if there is exactly one, and is answered with an empty list otherwise,
/// as it is when the client it goes to does not declare roots.
/// The same tracking decides which client sessions get the backend's log messages (<see cref="CallingSessions"/>, used by
/// <c>SessionHub</c>). A modern (2026-07-28) caller cannot be sent requests: for its calls the request is handed to the
/// call's <see cref="BridgeCall"/>, which answers the caller <c>input_required</c> and waits for its retry.
/// </summary>
internal sealed class ClientRequestRelay(string backend, Func<McpServer?> soleSession)
{
    private readonly ConcurrentDictionary<McpServer, int> _callers = new();

    /// <summary>Registers <paramref name="session"/> as calling this backend until the result is disposed.</summary>
    public CallerScope Track(McpServer session)
    {
        _callers.AddOrUpdate(session, 1, (_, n) => n + 1);
        return new CallerScope(this, session);
    }

    /// <summary>
    /// The client sessions with calls in flight on this backend: one request-bound server per session (its messages go
    /// out on that call's response stream while it is open, then on the session's own stream).
    /// </summary>
    public IEnumerable<McpServer> CallingSessions() =>
        _callers.Where(c => c.Value > 0).Select(c => c.Key).DistinctBy(s => s.SessionId ?? "");

#pragma warning disable MCP9005 // sampling and roots are deprecated from 2026-07-28, but backends on 2025-11-25 use them
    public ValueTask<CreateMessageResult> SampleAsync(CreateMessageRequestParams? request, CancellationToken ct)
    {
        var session = Target("sampling/createMessage", forCall: true);
        if (BridgeCall.Of(session) is { } bridged)
        {
            return bridged.AskAsync<CreateMessageResult>(RequestMethods.SamplingCreateMessage, request, ct);
        }

        if (session.ClientCapabilities?.Sampling is null)
        {
            throw Refused($"the client calling backend '{backend}' does not support sampling");
        }

        return session.SampleAsync(request ?? throw Refused("missing params"), ct);
    }

    public ValueTask<ElicitResult> ElicitAsync(ElicitRequestParams? request, CancellationToken ct)
    {
        var session = Target("elicitation/create", forCall: true);
        if (BridgeCall.Of(session) is { } bridged)
        {
            return bridged.AskAsync<ElicitResult>(RequestMethods.ElicitationCreate, request, ct);
        }

        if (session.ClientCapabilities?.Elicitation is null)
        {
            throw Refused($"the client calling backend '{backend}' does not support elicitation");
        }

        return session.ElicitAsync(request ?? throw Refused("missing params"), ct);
    }

    public ValueTask<ListRootsResult> ListRootsAsync(ListRootsRequestParams? request, CancellationToken ct)
    {
        // Outside any call, with no single client to ask (none connected yet — backends ask right after initialize — or
        // several): the clean answer is "no roots", not an error; the backend asks again on roots/list_changed.
        if (_callers.IsEmpty && soleSession() is null)
        {
            return NoRoots();
        }

        // A client that does not declare roots exposes none. A backend asks roots/list on its own schedule (after
        // initialize, on roots/list_changed), not for the call it lands in, so "no roots" is its answer: refusing it
        // would fail a modern caller's call with -32021 for a capability the call never needed.
        var session = Target("roots/list", forCall: false);
        if (BridgeCall.Of(session) is { } bridged)
        {
            return bridged.Declares(RequestMethods.RootsList)
                ? bridged.AskAsync<ListRootsResult>(RequestMethods.RootsList, request ?? new ListRootsRequestParams(), ct)
                : NoRoots();
        }

        if (session.ClientCapabilities?.Roots is null)
        {
            return NoRoots();
        }

        return session.RequestRootsAsync(request ?? new ListRootsRequestParams(), ct);
    }
#pragma warning restore MCP9005

    /// <summary>The answer for a backend whose roots/list has no client to ask, or one that exposes no roots.</summary>
    private static ValueTask<ListRootsResult> NoRoots() => ValueTask.FromResult(new ListRootsResult { Roots = [] });

    private McpServer Target(string method, bool forCall)
    {
        // Each call has its own request-bound server object (it answers over that call's response stream); calls
        // from one client session share its session id.
        // A modern (2026-07-28) caller has no session: each of its requests is a client of its own.
        var sessions = _callers.Where(c => c.Value > 0).Select(c => c.Key).GroupBy(SessionKey).ToList();
        return sessions.Count switch
        {
            1 => sessions[0].First(),
            0 when !forCall && soleSession() is { } only => only,
            0 => throw Refused($"{method} from backend '{backend}' arrived while no client call is in flight on it"),
            _ => throw Refused($"{method} from backend '{backend}' is ambiguous: {sessions.Count} client sessions have calls in flight on it"),
        };
    }

    private static string SessionKey(McpServer server) =>
        server.SessionId ?? "request:" + RuntimeHelpers.GetHashCode(server).ToString(System.Globalization.CultureInfo.InvariantCulture);

    private McpProtocolException Refused(string reason) =>
        new($"McpProxy cannot relay this request: {reason}.", McpErrorCode.InvalidRequest);

    public readonly struct CallerScope(ClientRequestRelay relay, McpServer session) : IDisposable
    {
        public void Dispose()
        {
            if (relay._callers.AddOrUpdate(session, 0, (_, n) => n - 1) <= 0)
            {
                relay._callers.TryRemove(new KeyValuePair<McpServer, int>(session, 0));
            }
        }
    }
}
