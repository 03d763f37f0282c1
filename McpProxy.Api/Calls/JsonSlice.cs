using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace McpProxy.Calls;

/// <summary>Where a parsed element's bytes lie in the memory its document was parsed from without a copy (<see cref="JsonDocument.Parse(ReadOnlyMemory{byte}, JsonDocumentOptions)"/>).</summary>
internal static class JsonSlice
{
    public static (int Start, int Length) Of(ReadOnlySpan<byte> source, JsonElement element)
    {
        var raw = JsonMarshal.GetRawUtf8Value(element);
        return ((int)Unsafe.ByteOffset(ref MemoryMarshal.GetReference(source), ref MemoryMarshal.GetReference(raw)), raw.Length);
    }
}
