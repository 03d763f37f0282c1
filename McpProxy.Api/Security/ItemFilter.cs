using System.Text.RegularExpressions;

namespace McpProxy.Security;

/// <summary>
/// The <c>expose_*</c> (allowlist) / <c>hide_*</c> (denylist) rule for one kind of item of one backend, applied to the
/// backend's original names (tools, prompts) or URIs (resources). An entry matches exactly, or as a glob when it
/// contains <c>*</c>; for resources an entry also matches every URI it is a prefix of at a path boundary: an entry
/// ending in <c>/</c> (or <c>*</c>) covers everything below it, any other entry the URI itself and what follows it
/// after <c>/</c>, <c>?</c> or <c>#</c> (so <c>file:///public</c> covers <c>file:///public/a.txt</c> but not
/// <c>file:///publicity</c>). Resource URIs reach a filter normalized (<see cref="ResourceUri"/>).
/// </summary>
internal sealed class ItemFilter
{
    public static readonly ItemFilter AllowAll = new(null, null, prefixMatch: false);

    private readonly Regex[]? _expose;
    private readonly Regex[]? _hide;

    private ItemFilter(IReadOnlyList<string>? expose, IReadOnlyList<string>? hide, bool prefixMatch)
    {
        _expose = expose is null ? null : [.. expose.Select(p => Compile(p, prefixMatch))];
        _hide = hide is null ? null : [.. hide.Select(p => Compile(p, prefixMatch))];
    }

    public static ItemFilter Create(IReadOnlyList<string>? expose, IReadOnlyList<string>? hide, bool prefixMatch = false) =>
        expose is null && hide is null ? AllowAll : new ItemFilter(expose, hide, prefixMatch);

    public bool IsAllowed(string name)
    {
        if (_expose is not null && !_expose.Any(r => r.IsMatch(name)))
        {
            return false;
        }

        return _hide is null || !_hide.Any(r => r.IsMatch(name));
    }

    private static Regex Compile(string pattern, bool prefixMatch)
    {
        var body = string.Join(".*", pattern.Split('*').Select(Regex.Escape));
        // \z, not $: "$" also matches before a final newline, which would let "echo\n" pass for "echo".
        var end = !prefixMatch ? "\\z" : pattern.EndsWith('/') || pattern.EndsWith('*') ? "" : "(?:\\z|[/?#])";
        return new Regex("^" + body + end, RegexOptions.CultureInvariant | RegexOptions.Singleline, TimeSpan.FromSeconds(1));
    }
}
