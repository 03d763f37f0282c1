using System.Security.Cryptography;
using System.Text;
using McpProxy.Configuration;

namespace McpProxy.Routing;

/// <summary>
/// The name policy (<c>[proxy.names]</c>): turns a canonical name — <c>{backend}{separator}{name}</c> as config
/// spells it (after aliasing), or the bare name for the <c>namespaced = false</c> backend — into the name clients
/// see, at most <c>max_length</c> characters from the configured character set.
/// </summary>
/// <remarks>
/// <para>A name that already fits is exposed as is (with <c>charset = "mcp"</c>, a separator outside the set is
/// written <c>__</c>). Otherwise every character outside the set becomes <c>_</c>, the result is cut to leave room,
/// and <c>_</c> plus the first <see cref="HashLength"/> hex digits of the SHA-256 of the canonical name are appended:
/// the same canonical name always gives the same exposed name, and two canonical names that clean to the same text
/// still differ in the suffix.</para>
/// <para>The mapping is reversed by lookup, not by parsing: the catalog keeps exposed → (backend, original) for every
/// item, and should two exposed names ever still coincide (a 32-bit suffix match, or a backend's own name that looks
/// like a rewritten one) it gives the later one the <see cref="LongHashLength"/>-digit suffix, so no two items share a
/// name (<see cref="ProxyCatalog"/>).</para>
/// </remarks>
internal sealed class NamePolicy
{
    public const int HashLength = 8;
    public const int LongHashLength = 16;
    public const string SafeSeparator = "__";

    private readonly string _separator;

    public NamePolicy(NamesConfig config, string separator)
    {
        MaxLength = config.MaxLength;
        Charset = config.Charset;
        _separator = separator;
        ExposedSeparator = Charset == NameCharset.Mcp && !separator.All(IsAllowed) ? SafeSeparator : separator;
    }

    public int MaxLength { get; }
    public NameCharset Charset { get; }

    /// <summary>The separator as it appears in exposed names.</summary>
    public string ExposedSeparator { get; }

    /// <summary>The canonical name (what roles, filters and config name): <c>{backend}{separator}{name}</c>.</summary>
    public string Canonical(string? backend, string name) => backend is null ? name : backend + _separator + name;

    /// <summary>The name as the policy writes it when it fits: the exposed separator, nothing else changed.</summary>
    public string Natural(string? backend, string name) => backend is null ? name : backend + ExposedSeparator + name;

    /// <summary>The name clients see for <paramref name="name"/> of <paramref name="backend"/> (null: not namespaced).</summary>
    public string Expose(string? backend, string name, bool longHash = false)
    {
        var natural = Natural(backend, name);
        if (!longHash && Fits(natural))
        {
            return natural;
        }

        var suffix = "_" + Hash(Canonical(backend, name), longHash ? LongHashLength : HashLength);
        var stem = Clean(natural);
        var room = MaxLength - suffix.Length;
        if (stem.Length > room)
        {
            // Never cut between the halves of a surrogate pair (only possible with charset = "any").
            stem = stem[..(room > 0 && char.IsHighSurrogate(stem[room - 1]) ? room - 1 : room)];
        }

        return stem + suffix;
    }

    /// <summary>Whether <paramref name="name"/> satisfies the policy as it stands.</summary>
    public bool Fits(string name) => name.Length <= MaxLength && (Charset == NameCharset.Any || name.All(IsAllowed));

    /// <summary>A one-line statement of the rule, for <c>--check</c> and the startup log.</summary>
    public string Describe() => Charset == NameCharset.Mcp
        ? $"names: at most {MaxLength} characters from [A-Za-z0-9_.-]; namespaced as {{backend}}{ExposedSeparator}{{name}}; others get '_' for each character outside the set and a '_' + {HashLength}-hex-digit hash suffix"
        : $"names: at most {MaxLength} characters (any characters); namespaced as {{backend}}{ExposedSeparator}{{name}}; longer ones are cut and get a '_' + {HashLength}-hex-digit hash suffix";

    /// <summary>The MCP specification's recommended tool-name characters: <c>[A-Za-z0-9_.-]</c>.</summary>
    public static bool IsAllowed(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-';

    private string Clean(string name)
    {
        if (Charset == NameCharset.Any)
        {
            return name;
        }

        var builder = new StringBuilder(name.Length);
        foreach (var c in name)
        {
            builder.Append(IsAllowed(c) ? c : '_');
        }

        return builder.ToString();
    }

    private static string Hash(string canonical, int digits)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(canonical), hash);
        return Convert.ToHexStringLower(hash)[..digits];
    }
}
