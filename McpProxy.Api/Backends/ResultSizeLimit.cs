using System.Text.Json;
using ModelContextProtocol;
using McpProxy.Calls;
using ModelContextProtocol.Protocol;

namespace McpProxy.Backends;

/// <summary>
/// <c>[security] max_result_size</c>: no message a backend sends may exceed it. It is enforced while reading — the
/// stdio line reader (<see cref="BoundedStdioTransport"/>) and the HTTP response streams (<see cref="ResultLimitHandler"/>)
/// never hold more than the limit of one message — so an oversized result becomes this clear error for the one call
/// it answers, and the backend's connection carries on.
/// </summary>
internal static class ResultSizeLimit
{
    private const string MarkerKey = "mcpProxy";
    private const string MarkerValue = "result_too_large";

    public static string Message(string backend, long limit) => ResultTooLargeException.Describe(backend, limit);

    /// <summary>The JSON-RPC error that stands in for an oversized response read from a stdio backend.</summary>
    public static JsonRpcError ErrorFor(RequestId id, string backend, long limit) => new()
    {
        Id = id,
        Error = new JsonRpcErrorDetail
        {
            Code = (int)McpErrorCode.InternalError,
            Message = Message(backend, limit),
            Data = JsonSerializer.SerializeToElement(new Dictionary<string, object> { [MarkerKey] = MarkerValue, ["maxResultSize"] = limit }),
        },
    };

    /// <summary>Whether a backend call failed with the stand-in error of <see cref="ErrorFor"/>.</summary>
    public static bool IsStandIn(McpProtocolException exception) =>
        exception is not ResultTooLargeException && exception.Data[MarkerKey] is MarkerValue;
}
