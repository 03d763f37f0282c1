using System.Text;

namespace McpProxy.Security;

/// <summary>
/// Syntax-based normalization of a resource URI (RFC 3986 §6.2.2), so that every policy — RBAC
/// <c>allow_resources</c>/<c>deny_resources</c>, a backend's <c>expose_resources</c>/<c>hide_resources</c> — decides on
/// one spelling, and the backend receives exactly the URI that was checked:
/// <list type="bullet">
/// <item>the scheme and the host are lower-cased (§6.2.2.1); <c>file://localhost/</c> and <c>file:/</c> become <c>file:///</c> (RFC 8089);</item>
/// <item>percent-escapes of unreserved characters are decoded, the hex digits of the others upper-cased (§6.2.2.2);</item>
/// <item><c>.</c> and <c>..</c> segments are removed (§5.2.4) and empty segments (<c>//</c>) collapsed in the path.</item>
/// </list>
/// A URI is refused (with the reason) when it contains a control character (raw or escaped) or an invalid escape, when a
/// <c>..</c> would climb above the root, or when its path holds a <c>\</c>, an encoded <c>/</c> or <c>\</c>, or a
/// <c>.</c>/<c>..</c> segment spelled with escapes: a backend that decodes or splits differently could otherwise see a
/// path other than the one that was checked.
/// </summary>
/// <remarks>
/// Hand-written rather than <see cref="Uri"/>: <see cref="Uri"/> removes dot segments and collapses nothing for schemes
/// it does not know (<c>sample://</c>, most MCP schemes), unescapes differently per scheme, rewrites <c>file:</c> URIs
/// into platform paths, and does not accept URI templates (<c>{id}</c>), which go through the same rules here: characters
/// outside the URI syntax (braces, non-ASCII) are kept as they are.
/// </remarks>
internal static class ResourceUri
{
    /// <summary>Normalizes <paramref name="uri"/>; on failure <paramref name="error"/> says why ("it contains …").</summary>
    public static bool TryNormalize(string uri, out string normalized, out string error)
    {
        normalized = uri;
        error = "";
        if (uri.Length == 0)
        {
            error = "it is empty";
            return false;
        }

        foreach (var c in uri)
        {
            if (char.IsControl(c))
            {
                error = "it contains a control character";
                return false;
            }
        }

        var result = new StringBuilder(uri.Length);
        var rest = uri.AsSpan();
        var schemeLength = SchemeLength(rest);
        var scheme = "";
        if (schemeLength > 0)
        {
            scheme = rest[..schemeLength].ToString().ToLowerInvariant();
            result.Append(scheme).Append(':');
            rest = rest[(schemeLength + 1)..];
        }

        // Fragment, then query (RFC 3986 §3: the first '#' ends everything before it, the first '?' ends the path).
        var fragmentAt = rest.IndexOf('#');
        var fragment = fragmentAt >= 0 ? rest[(fragmentAt + 1)..] : default;
        var hasFragment = fragmentAt >= 0;
        if (hasFragment)
        {
            rest = rest[..fragmentAt];
        }

        var queryAt = rest.IndexOf('?');
        var query = queryAt >= 0 ? rest[(queryAt + 1)..] : default;
        var hasQuery = queryAt >= 0;
        if (hasQuery)
        {
            rest = rest[..queryAt];
        }

        if (rest.StartsWith("//"))
        {
            rest = rest[2..];
            var end = rest.IndexOf('/');
            var authority = end >= 0 ? rest[..end] : rest;
            rest = end >= 0 ? rest[end..] : default;
            if (!TryDecode(authority, path: false, out var decoded, out error))
            {
                return false;
            }

            var host = LowerHost(decoded);
            result.Append("//").Append(scheme == "file" && host == "localhost" ? "" : host);
        }
        else if (scheme == "file" && rest.StartsWith("/"))
        {
            result.Append("//"); // file:/x is file:///x (RFC 8089 §2)
        }

        if (!TryNormalizePath(rest, result, out error))
        {
            return false;
        }

        if (hasQuery)
        {
            if (!TryDecode(query, path: false, out var decoded, out error))
            {
                return false;
            }

            result.Append('?').Append(decoded);
        }

        if (hasFragment)
        {
            if (!TryDecode(fragment, path: false, out var decoded, out error))
            {
                return false;
            }

            result.Append('#').Append(decoded);
        }

        normalized = result.ToString();
        return true;
    }

    /// <summary>
    /// The form a policy compares: the normalized URI, or <paramref name="uri"/> unchanged when it cannot be normalized
    /// (a config pattern such as <c>file:///public/*</c>, or a URI a backend lists that no read could use anyway).
    /// </summary>
    public static string ForPolicy(string uri) => TryNormalize(uri, out var normalized, out _) ? normalized : uri;

    /// <summary>The length of a valid scheme (<c>ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )</c> before <c>:</c>), or 0.</summary>
    private static int SchemeLength(ReadOnlySpan<char> uri)
    {
        if (uri.Length == 0 || !char.IsAsciiLetter(uri[0]))
        {
            return 0;
        }

        for (var i = 1; i < uri.Length; i++)
        {
            var c = uri[i];
            if (c == ':')
            {
                return i;
            }

            if (!char.IsAsciiLetterOrDigit(c) && c is not ('+' or '-' or '.'))
            {
                return 0;
            }
        }

        return 0;
    }

    /// <summary>Lower-cases the host of <c>[userinfo@]host[:port]</c> (template expressions in braces are kept).</summary>
    private static string LowerHost(string authority)
    {
        var at = authority.LastIndexOf('@');
        var chars = authority.ToCharArray();
        var depth = 0;
        for (var i = at + 1; i < chars.Length; i++)
        {
            depth += chars[i] switch { '{' => 1, '}' => -1, _ => 0 };
            if (depth == 0)
            {
                chars[i] = char.ToLowerInvariant(chars[i]);
            }
        }

        return new string(chars);
    }

    /// <summary>Removes dot segments and empty segments; refuses climbing above the root and ambiguous segments.</summary>
    private static bool TryNormalizePath(ReadOnlySpan<char> path, StringBuilder result, out string error)
    {
        error = "";
        if (path.IsEmpty)
        {
            return true;
        }

        if (path.Contains('\\'))
        {
            error = "it contains a '\\' in its path";
            return false;
        }

        var absolute = path[0] == '/';
        var segments = new List<string>();
        var trailingSlash = false;
        foreach (var range in path.Split('/'))
        {
            var raw = path[range];
            trailingSlash = false;
            if (raw.IsEmpty)
            {
                trailingSlash = true; // "a//" or "a/": the path ends below a directory
                continue;
            }

            if (!TryDecode(raw, path: true, out var segment, out error))
            {
                return false;
            }

            if (segment is "." or "..")
            {
                if (!raw.SequenceEqual(segment))
                {
                    error = "it contains an encoded '.' or '..' segment";
                    return false;
                }

                if (segment == "..")
                {
                    if (segments.Count == 0)
                    {
                        error = "it has '..' above the root";
                        return false;
                    }

                    segments.RemoveAt(segments.Count - 1);
                }

                trailingSlash = true; // "a/.." and "a/." name the directory: "/"
                continue;
            }

            segments.Add(segment);
        }

        if (absolute)
        {
            result.Append('/');
        }

        result.AppendJoin('/', segments);
        if (trailingSlash && segments.Count > 0)
        {
            result.Append('/');
        }

        return true;
    }

    /// <summary>
    /// Decodes escapes of unreserved characters and upper-cases the hex of the others; refuses invalid escapes,
    /// escaped control characters and, in a path, an escaped <c>/</c> or <c>\</c>.
    /// </summary>
    private static bool TryDecode(ReadOnlySpan<char> text, bool path, out string decoded, out string error)
    {
        error = "";
        if (!text.Contains('%'))
        {
            decoded = text.ToString();
            return true;
        }

        var sb = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] != '%')
            {
                sb.Append(text[i]);
                continue;
            }

            if (i + 2 >= text.Length || !char.IsAsciiHexDigit(text[i + 1]) || !char.IsAsciiHexDigit(text[i + 2]))
            {
                decoded = "";
                error = "it contains an invalid percent-escape";
                return false;
            }

            var value = (char)Convert.ToByte(text.Slice(i + 1, 2).ToString(), 16);
            i += 2;
            if (value < 0x20 || value == 0x7F)
            {
                decoded = "";
                error = "it contains a control character";
                return false;
            }

            if (path && value is '/' or '\\')
            {
                decoded = "";
                error = "it contains an encoded '/' or '\\' in its path";
                return false;
            }

            if (char.IsAsciiLetterOrDigit(value) || value is '-' or '.' or '_' or '~')
            {
                sb.Append(value);
            }
            else
            {
                sb.Append('%').Append(((int)value).ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        decoded = sb.ToString();
        return true;
    }
}
