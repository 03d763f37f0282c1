using System.Net;

namespace McpProxy.Backends;

/// <summary>
/// Sees every HTTP request of one HTTP backend session — calls, the SDK's standalone GET stream and its reconnects —
/// and reports transport failures (connection refused or reset, no answer, a gateway's 502/503/504) to the backend's
/// supervisor, which then probes the backend. A Streamable HTTP client never completes when its server dies (the SDK
/// stops reconnecting its GET stream silently), so this is how the proxy learns of it without waiting for a call.
/// </summary>
internal sealed class TransportFailureHandler(Action<string> onFailure) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            onFailure(ex.Message);
            throw;
        }

        ReportGatewayFailure(response, onFailure);
        return response;
    }

    /// <summary>A gateway's 502, 503 or 504 in front of the backend is a transport failure too (the fast path's send reports it here as well).</summary>
    public static void ReportGatewayFailure(HttpResponseMessage response, Action<string> onFailure)
    {
        if (response.StatusCode is HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout)
        {
            onFailure($"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
        }
    }
}
