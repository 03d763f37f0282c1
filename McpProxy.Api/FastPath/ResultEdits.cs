using System.Text.Json;
using McpProxy.Calls;

namespace McpProxy.FastPath;

/// <summary>One change to a backend's result bytes: <see cref="Length"/> bytes at <see cref="Start"/> become <see cref="Replacement"/>.</summary>
internal readonly record struct ResultEdit(int Start, int Length, ReadOnlyMemory<byte> Replacement);

/// <summary>
/// What must change in a backend's result before the caller gets it, as splices into its bytes (the rest is written
/// as the backend sent it, never copied): the result's <c>_meta</c> names the proxy as the server
/// (<c>io.modelcontextprotocol/serverInfo</c>, as the SDK's server puts it on every modern result), and a resource's
/// contents carry namespaced URIs.
/// </summary>
internal static class ResultEdits
{
    private const string ServerInfoKey = "io.modelcontextprotocol/serverInfo";

    public static List<ResultEdit> Of(ReadOnlyMemory<byte> result, ReadOnlyMemory<byte> serverInfo, Func<string, string>? namespaceUri)
    {
        var edits = new List<ResultEdit>(2);
        using var document = JsonDocument.Parse(result);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            return edits;
        }

        var span = result.Span;
        if (root.TryGetProperty("_meta"u8, out var meta) && meta.ValueKind == JsonValueKind.Object)
        {
            if (meta.TryGetProperty("io.modelcontextprotocol/serverInfo"u8, out var info))
            {
                var (start, length) = JsonSlice.Of(span, info);
                edits.Add(new(start, length, serverInfo));
            }
            else
            {
                var (start, length) = JsonSlice.Of(span, meta);
                edits.Add(new(start + length - 1, 0, Member(meta.EnumerateObject().Any(), ServerInfoKey, serverInfo)));
            }
        }
        else
        {
            var (start, length) = JsonSlice.Of(span, root);
            edits.Add(new(start + length - 1, 0, Member(root.EnumerateObject().Any(), "_meta", Member(false, ServerInfoKey, serverInfo, braces: true))));
        }

        if (namespaceUri is not null && root.TryGetProperty("contents"u8, out var contents) && contents.ValueKind == JsonValueKind.Array)
        {
            foreach (var content in contents.EnumerateArray())
            {
                if (content.ValueKind == JsonValueKind.Object && content.TryGetProperty("uri"u8, out var uri) && uri.ValueKind == JsonValueKind.String)
                {
                    var (start, length) = JsonSlice.Of(span, uri);
                    edits.Add(new(start, length, JsonSerializer.SerializeToUtf8Bytes(namespaceUri(uri.GetString()!), ModelContextProtocol.McpJsonUtilities.DefaultOptions)));
                }
            }
        }

        edits.Sort(static (a, b) => a.Start.CompareTo(b.Start));
        return edits;
    }

    /// <summary><c>,"key":value</c> (no comma when it is the first member), optionally as a whole object <c>{"key":value}</c>.</summary>
    private static byte[] Member(bool comma, string key, ReadOnlyMemory<byte> value, bool braces = false)
    {
        using var buffer = new MemoryStream();
        if (braces)
        {
            buffer.WriteByte((byte)'{');
        }
        else if (comma)
        {
            buffer.WriteByte((byte)',');
        }

        buffer.Write(System.Text.Encoding.UTF8.GetBytes($"\"{key}\"")); // the keys are the spec's, with nothing to escape
        buffer.WriteByte((byte)':');
        buffer.Write(value.Span);
        if (braces)
        {
            buffer.WriteByte((byte)'}');
        }

        return buffer.ToArray();
    }
}
