using ModelContextProtocol;

namespace McpProxy.Calls;

/// <summary>
/// A backend's result exceeded <c>[security] max_result_size</c>; the caller gets this message (-32603). It sits with
/// the call contract because the backends raise it and the resilience classifier reads it (never retried: the same
/// call would be as large again).
/// </summary>
internal sealed class ResultTooLargeException(string backend, long limit)
    : McpProtocolException(Describe(backend, limit), McpErrorCode.InternalError)
{
    public static string Describe(string backend, long limit) =>
        $"Backend '{backend}' returned a result larger than {limit} bytes ([security] max_result_size)";
}
