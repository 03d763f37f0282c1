using System.Text.Json;
using McpProxy.Calls;

namespace McpProxy.FastPath;

/// <summary>One change to a backend's result bytes: <see cref="Length"/> bytes at <see cref="Start"/> become <see cref="Replacement"/>.</summary>
internal readonly record struct ResultEdit(int Start, int Length, ReadOnlyMemory<byte> Replacement);

/// <summary>
/// What must change in a backend's result before the caller gets it, as splices into its bytes (the rest is written
/// as the backend sent it, never copied): the result's <c>_meta</c> names the proxy as the server
/// (<c>io.modelcontextprotocol/serverInfo</c>, as the SDK's server puts it on every modern result), and a resource's
/// contents carry namespaced URIs. Where they lie was found when the result was read (<see cref="RawResult.ServerInfo"/>,
/// <see cref="RawResult.ContentUris"/>): nothing here parses it again.
/// </summary>
internal static class ResultEdits
{
    private const string ServerInfoKey = "io.modelcontextprotocol/serverInfo";

    /// <param name="serverInfo">The proxy's server info; null leaves the result's <c>_meta</c> as the backend sent it (a legacy caller's).</param>
    public static List<ResultEdit> Of(RawResult result, byte[]? serverInfo, Func<string, string>? namespaceUri)
    {
        var edits = new List<ResultEdit>(2);
        var slot = result.ServerInfo;
        switch (serverInfo is null ? ServerInfoSlot.Where.None : slot.Kind)
        {
            case ServerInfoSlot.Where.Value:
                edits.Add(new(slot.Start, slot.Length, serverInfo));
                break;
            case ServerInfoSlot.Where.Meta:
                edits.Add(new(slot.Start + slot.Length - 1, 0, Member(slot.HasMembers, ServerInfoKey, serverInfo)));
                break;
            case ServerInfoSlot.Where.Result:
                edits.Add(new(slot.Start + slot.Length - 1, 0, Member(slot.HasMembers, "_meta", Member(false, ServerInfoKey, serverInfo, braces: true))));
                break;
        }

        if (namespaceUri is not null)
        {
            foreach (var (start, length, uri) in result.ContentUris)
            {
                edits.Add(new(start, length, JsonSerializer.SerializeToUtf8Bytes(namespaceUri(uri), ModelContextProtocol.McpJsonUtilities.DefaultOptions)));
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
