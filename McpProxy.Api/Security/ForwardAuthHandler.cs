using System.Net.Http.Headers;

namespace McpProxy.Security;

/// <summary>
/// <c>forward_auth = true</c>: the request the proxy sends to an HTTP backend on behalf of a caller carries that
/// caller's bearer token. The proxy sets <see cref="Current"/> around the backend call; this handler, on the backends'
/// HttpClient, puts it in <c>Authorization</c>, replacing a static <c>bearer_token</c> (which still authenticates the
/// proxy's own requests: initialize, list refreshes, the notification stream, and calls by callers without a token).
/// </summary>
internal sealed class ForwardAuthHandler : DelegatingHandler
{
    private static readonly AsyncLocal<string?> s_current = new();

    /// <summary>The caller's token for the backend call in progress on this async flow.</summary>
    public static string? Current => s_current.Value;

    /// <summary>Sets the token to forward for the rest of this async flow; dispose to restore.</summary>
    public static Scope Use(string? token)
    {
        var previous = s_current.Value;
        s_current.Value = token;
        return new Scope(previous);
    }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (s_current.Value is { } token)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return base.SendAsync(request, cancellationToken);
    }

    public readonly struct Scope(string? previous) : IDisposable
    {
        public void Dispose() => s_current.Value = previous;
    }
}
