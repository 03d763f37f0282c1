using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace McpProxy.Tests.Eras;

/// <summary>
/// A raw MCP 2026-07-28 client: each request is one POST with <c>MCP-Protocol-Version</c>, <c>Mcp-Method</c> and (for
/// item requests) <c>Mcp-Name</c>, its <c>_meta</c> carrying version, client info and capabilities; no session.
/// </summary>
internal static class ModernHttp
{
    public const string Version = "2026-07-28";

    public static JsonObject Meta(JsonObject? capabilities = null, string version = Version) => new()
    {
        ["io.modelcontextprotocol/protocolVersion"] = version,
        ["io.modelcontextprotocol/clientCapabilities"] = capabilities ?? new JsonObject(),
        ["io.modelcontextprotocol/clientInfo"] = new JsonObject { ["name"] = "modern-test", ["version"] = "1" },
    };

    public static HttpRequestMessage Request(
        Uri endpoint, string method, JsonObject? parameters = null, string? name = null, int id = 1, string version = Version, string? headerMethod = null)
    {
        parameters ??= [];
        if (parameters["_meta"] is not JsonObject meta)
        {
            parameters["_meta"] = meta = [];
        }

        foreach (var (key, value) in Meta(version: version))
        {
            if (!meta.ContainsKey(key))
            {
                meta[key] = value!.DeepClone();
            }
        }

        var body = new JsonObject { ["jsonrpc"] = "2.0", ["id"] = id, ["method"] = method, ["params"] = parameters };
        var request = new HttpRequestMessage(HttpMethod.Post, endpoint) { Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json") };
        request.Headers.Accept.ParseAdd("application/json, text/event-stream");
        request.Headers.Add("MCP-Protocol-Version", version);
        request.Headers.Add("Mcp-Method", headerMethod ?? method);
        if (name is not null)
        {
            request.Headers.Add("Mcp-Name", name);
        }

        return request;
    }

    public static async Task<Reply> SendAsync(HttpClient http, HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var response = await http.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        return new Reply(response.StatusCode, response.Headers.Contains("Mcp-Session-Id"), Parse(text, response.Content.Headers.ContentType?.MediaType));
    }

    public static Task<Reply> PostAsync(HttpClient http, Uri endpoint, string method, JsonObject? parameters, string? name, CancellationToken cancellationToken) =>
        SendAsync(http, Request(endpoint, method, parameters, name), cancellationToken);

    /// <summary>The JSON-RPC messages of a JSON or SSE body, in order.</summary>
    public static List<JsonObject> Parse(string body, string? mediaType)
    {
        if (mediaType == "text/event-stream")
        {
            return [.. body.Split('\n').Where(l => l.StartsWith("data:", StringComparison.Ordinal))
                .Select(l => l["data:".Length..].Trim()).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!.AsObject())];
        }

        return body.Length == 0 ? [] : [JsonNode.Parse(body)!.AsObject()];
    }

    internal sealed record Reply(HttpStatusCode Status, bool HasSessionHeader, List<JsonObject> Messages)
    {
        /// <summary>The response (the message with an id and a result or error).</summary>
        public JsonObject Final => Messages.Last(m => m.ContainsKey("result") || m.ContainsKey("error"));

        public JsonObject Result => Final["result"]?.AsObject() ?? throw new InvalidOperationException("Not a result: " + Final.ToJsonString());

        public int? ErrorCode => (int?)Final["error"]?["code"];

        public IEnumerable<JsonObject> Notifications(string method) => Messages.Where(m => (string?)m["method"] == method);
    }
}
