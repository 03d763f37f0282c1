using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace McpProxy.Tests.Mrtr;

/// <summary>
/// A 2026-07-28 client as raw HTTP: one POST per request with <c>MCP-Protocol-Version</c>, <c>Mcp-Method</c>,
/// <c>Mcp-Name</c> and the per-request <c>_meta</c> (protocol version, client capabilities, client info); no session.
/// </summary>
internal sealed class ModernClient(Uri endpoint, string? bearerToken = null) : IDisposable
{
    public const string Version = "2026-07-28";

    private readonly HttpClient _http = new();
    private int _ids;

    /// <summary>Every capability a client can declare for input requests.</summary>
    public static JsonObject AllCapabilities() => new() { ["elicitation"] = new JsonObject(), ["sampling"] = new JsonObject(), ["roots"] = new JsonObject() };

    /// <summary>Sends one request; gives the HTTP status and the JSON-RPC response (from JSON or from the SSE stream).</summary>
    public async Task<(HttpStatusCode Status, JsonObject Response)> SendAsync(
        string method, string? name, JsonObject parameters, JsonObject? capabilities, CancellationToken cancellationToken)
    {
        var id = Interlocked.Increment(ref _ids);
        parameters["_meta"] = new JsonObject
        {
            ["io.modelcontextprotocol/protocolVersion"] = Version,
            ["io.modelcontextprotocol/clientCapabilities"] = capabilities ?? AllCapabilities(),
            ["io.modelcontextprotocol/clientInfo"] = new JsonObject { ["name"] = "modern-test", ["version"] = "1" },
        };
        var body = new JsonObject { ["jsonrpc"] = "2.0", ["id"] = id, ["method"] = method, ["params"] = parameters };
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint)
        {
            Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
        };
        request.Headers.Accept.ParseAdd("application/json, text/event-stream");
        request.Headers.Add("MCP-Protocol-Version", Version);
        request.Headers.Add("Mcp-Method", method);
        if (name is not null)
        {
            request.Headers.Add("Mcp-Name", name);
        }

        if (bearerToken is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearerToken);
        }

        using var response = await _http.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        Assert.False(response.Headers.Contains("Mcp-Session-Id"), "a modern request gets no session");
        if (response.Content.Headers.ContentType?.MediaType == "text/event-stream")
        {
            foreach (var line in text.Split('\n'))
            {
                if (line.StartsWith("data:", StringComparison.Ordinal) && JsonNode.Parse(line[5..]) is JsonObject message
                    && message["id"]?.GetValue<int>() == id)
                {
                    return (response.StatusCode, message);
                }
            }

            throw new InvalidOperationException($"No response with id {id} on the stream: {text}");
        }

        return (response.StatusCode, JsonNode.Parse(text) as JsonObject ?? throw new InvalidOperationException($"Not a JSON-RPC response: {text}"));
    }

    public async Task<JsonObject> CallToolAsync(
        string name, JsonObject? inputResponses = null, string? requestState = null, JsonObject? arguments = null,
        JsonObject? capabilities = null, CancellationToken cancellationToken = default)
    {
        var parameters = new JsonObject { ["name"] = name, ["arguments"] = arguments ?? new JsonObject() };
        Retry(parameters, inputResponses, requestState);
        return (await SendAsync("tools/call", name, parameters, capabilities, cancellationToken)).Response;
    }

    public async Task<JsonObject> GetPromptAsync(
        string name, JsonObject? inputResponses = null, string? requestState = null, CancellationToken cancellationToken = default)
    {
        var parameters = new JsonObject { ["name"] = name };
        Retry(parameters, inputResponses, requestState);
        return (await SendAsync("prompts/get", name, parameters, null, cancellationToken)).Response;
    }

    private static void Retry(JsonObject parameters, JsonObject? inputResponses, string? requestState)
    {
        if (inputResponses is not null)
        {
            parameters["inputResponses"] = inputResponses;
        }

        if (requestState is not null)
        {
            parameters["requestState"] = requestState;
        }
    }

    /// <summary>
    /// A legacy backend may ask <c>roots/list</c> on its own (server-everything does after its roots change), and the
    /// proxy attributes it to the call in flight: a modern client answers it like any input request.
    /// </summary>
    public async Task<JsonObject> AnsweringRootsAsync(string tool, JsonObject response, JsonObject? arguments = null)
    {
        while (response["result"]?["resultType"]?.GetValue<string>() == "input_required"
            && Assert.Single(response["result"]!["inputRequests"]!.AsObject()) is var (key, request)
            && request!["method"]!.GetValue<string>() == "roots/list")
        {
            response = await CallToolAsync(
                tool, new JsonObject { [key] = new JsonObject { ["roots"] = new JsonArray() } }, response["result"]!["requestState"]!.GetValue<string>(),
                (JsonObject?)arguments?.DeepClone());
        }

        return response;
    }

    public void Dispose() => _http.Dispose();
}
