using System.Net;
using McpProxy.Configuration;
using McpProxy.Observability;

namespace McpProxy.Sessions;

/// <summary>
/// Sessions are bounded: at most <c>[proxy.sessions] max_sessions</c> open at once, and at most
/// <c>max_sessions_per_caller</c> per caller. A new session takes a slot before the SDK creates it
/// (<see cref="SessionLimitMiddleware"/>) and gives it back when the session ends (DELETE, idle timeout, shutdown).
/// Past a cap the new session is refused; nothing already open is ever evicted, so one caller cannot push other
/// callers' sessions out (the SDK's own <c>MaxIdleSessionCount</c> evicts the oldest idle sessions of anyone, which is
/// why it is set above <c>max_sessions</c> and never reached).
/// </summary>
internal sealed partial class SessionLimiter(ProxyConfig config, ILogger<SessionLimiter> logger)
{
    private readonly SessionsConfig _limits = config.Proxy.Sessions;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, int> _perCaller = new(StringComparer.Ordinal);
    private int _total;

    /// <summary>Sessions holding a slot now (including ones whose initialize is still being answered).</summary>
    public int Count => Volatile.Read(ref _total);

    /// <summary>Sessions the given caller (<see cref="CallerOf"/>) holds now.</summary>
    public int CountFor(string caller)
    {
        lock (_lock)
        {
            return _perCaller.GetValueOrDefault(caller);
        }
    }

    /// <summary>
    /// Who a session belongs to for <c>max_sessions_per_caller</c>: an authenticated caller by
    /// <see cref="CallerIdentity"/>, an unauthenticated one by its remote address (all unauthenticated callers behind
    /// one reverse proxy share its address, so such a deployment raises the cap or turns on <c>[auth]</c>).
    /// </summary>
    public static string CallerOf(HttpContext http) =>
        http.User.Identity?.IsAuthenticated == true
            ? "caller:" + CallerIdentity.Of(http.User)
            : "address:" + (http.Connection.RemoteIpAddress is { } ip ? (ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip).ToString() : IPAddress.None.ToString());

    /// <summary>Takes a slot for a new session of <paramref name="caller"/>, or says which cap refuses it.</summary>
    public SessionSlot? TryReserve(string caller, out string? refusal)
    {
        lock (_lock)
        {
            var mine = _perCaller.GetValueOrDefault(caller);
            if (_total >= _limits.MaxSessions)
            {
                refusal = $"Too many sessions: the proxy already holds {_limits.MaxSessions}, the most it allows ([proxy.sessions] max_sessions). Try again when sessions have ended.";
            }
            else if (mine >= _limits.MaxSessionsPerCaller)
            {
                refusal = $"Too many sessions for this caller: it already holds {_limits.MaxSessionsPerCaller}, the most one caller may ([proxy.sessions] max_sessions_per_caller). End one (HTTP DELETE) or let one expire.";
            }
            else
            {
                _perCaller[caller] = mine + 1;
                _total++;
                refusal = null;
                return new SessionSlot(this, caller);
            }
        }

        LogRefused(caller.StartsWith("caller:", StringComparison.Ordinal) ? "an authenticated caller" : "an unauthenticated address", refusal);
        return null;
    }

    private void Release(string caller)
    {
        lock (_lock)
        {
            _total--;
            if (_perCaller.TryGetValue(caller, out var mine) && mine > 1)
            {
                _perCaller[caller] = mine - 1;
            }
            else
            {
                _perCaller.Remove(caller);
            }
        }
    }

    // Information, not Warning: a client hammering a full proxy must not flood the log at warning level.
    [LoggerMessage(Level = LogLevel.Information, Message = "New session refused for {Caller}: {Reason}")]
    private partial void LogRefused(string caller, string reason);

    /// <summary>One session's slot: released once, by whoever ends up owning it (the request, or the session it opened).</summary>
    internal sealed class SessionSlot(SessionLimiter limiter, string caller) : IDisposable
    {
        private int _claimed;
        private int _released;

        /// <summary>The session the request opened takes the slot over; it releases it when the session ends.</summary>
        public IDisposable Claim()
        {
            Interlocked.Exchange(ref _claimed, 1);
            return new Owner(this);
        }

        /// <summary>At the end of the request: gives the slot back unless a session took it.</summary>
        public void Dispose()
        {
            if (Volatile.Read(ref _claimed) == 0)
            {
                Release();
            }
        }

        private void Release()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                limiter.Release(caller);
            }
        }

        private sealed class Owner(SessionSlot slot) : IDisposable
        {
            public void Dispose() => slot.Release();
        }
    }
}
