using System.Security.Claims;
using McpProxy.Configuration;

namespace McpProxy.Security;

/// <summary>
/// RBAC (<c>[[auth.roles]]</c>, <c>[auth.role_mapping]</c>): a caller's roles come from one claim (<c>scope</c> is split
/// on spaces; any other claim may hold several values), each value mapped to a role. A role allows the tools, prompts
/// and resources its <c>allow_*</c> patterns match (empty = all) minus those its <c>deny_*</c> patterns match; a caller
/// may use an item when any of its roles allows it. Patterns are namespaced names (<c>files/read_*</c>; resources: a
/// namespaced URI or a prefix of one, matched at path boundaries against the normalized URI — see
/// <see cref="ResourceUri"/>; resource patterns are normalized the same way). A caller that maps to no role gets <c>default_role</c>, or is refused.
/// Without roles (or without auth) everyone may use everything.
/// </summary>
internal sealed class AccessPolicy
{
    private readonly AuthConfig? _auth;
    private readonly Dictionary<string, CompiledRole> _roles;

    public AccessPolicy(ProxyConfig config)
    {
        _auth = config.Auth;
        _roles = (_auth?.Roles ?? []).ToDictionary(r => r.Name, r => new CompiledRole(r, config), StringComparer.Ordinal);
    }

    /// <summary>Whether roles apply at all (JWT auth with <c>[[auth.roles]]</c>).</summary>
    public bool Enabled => _roles.Count > 0;

    /// <summary>The caller's access; <see langword="null"/> when it maps to no role and there is no <c>default_role</c>.</summary>
    public CallerAccess? For(ClaimsPrincipal? user)
    {
        if (!Enabled)
        {
            return CallerAccess.All;
        }

        var roles = RolesOf(user);
        return roles.Count == 0 ? null : new CallerAccess(roles);
    }

    /// <summary>
    /// Whether the caller may use the admin API by role: one of the roles it resolves to (its mapped roles, or
    /// <c>default_role</c> when none maps — exactly the roles <see cref="For"/> gives it) is in <c>[auth] admin_roles</c>.
    /// </summary>
    public bool IsAdmin(ClaimsPrincipal? user) =>
        Enabled && _auth!.AdminRoles.Count > 0 && RolesOf(user).Any(r => _auth.AdminRoles.Contains(r.Name, StringComparer.Ordinal));

    private List<CompiledRole> RolesOf(ClaimsPrincipal? user)
    {
        var mapping = _auth!.RoleMapping ?? new RoleMappingConfig();
        var values = (user?.FindAll(mapping.Claim) ?? [])
            .SelectMany(c => mapping.Claim == "scope" ? c.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries) : [c.Value]);
        var roles = values
            .Select(v => mapping.Mapping.GetValueOrDefault(v))
            .Where(r => r is not null && _roles.ContainsKey(r))
            .Distinct(StringComparer.Ordinal)
            .Select(r => _roles[r!])
            .ToList();
        if (roles.Count == 0 && _auth.DefaultRole is { } fallback)
        {
            roles.Add(_roles[fallback]);
        }

        return roles;
    }

    /// <summary>A role's rules: the same allow/deny globs as a backend's expose_*/hide_* (<see cref="ItemFilter"/>).</summary>
    internal sealed class CompiledRole(RoleConfig role, ProxyConfig config)
    {
        public string Name { get; } = role.Name;
        public ItemFilter Tools { get; } = Rule(role.AllowTools, role.DenyTools, prefix: false);
        public ItemFilter Prompts { get; } = Rule(role.AllowPrompts, role.DenyPrompts, prefix: false);
        public ItemFilter Resources { get; } = Rule(
            [.. role.AllowResources.Select(p => NormalizePattern(p, config))], [.. role.DenyResources.Select(p => NormalizePattern(p, config))], prefix: true);

        /// <summary>
        /// A resource pattern with its URI part normalized, as URIs are when checked: after <c>{backend}{separator}</c>
        /// for a namespaced backend, otherwise (the <c>namespaced = false</c> backend) the whole pattern.
        /// </summary>
        private static string NormalizePattern(string pattern, ProxyConfig config)
        {
            var separator = config.Proxy.Separator;
            var i = pattern.IndexOf(separator, StringComparison.Ordinal);
            return i > 0 && config.Backends.Any(b => b.Namespaced && b.Name == pattern[..i])
                ? pattern[..(i + separator.Length)] + ResourceUri.ForPolicy(pattern[(i + separator.Length)..])
                : ResourceUri.ForPolicy(pattern);
        }

        // An empty allow list allows everything, as an absent expose_* list does.
        private static ItemFilter Rule(IReadOnlyList<string> allow, IReadOnlyList<string> deny, bool prefix) =>
            ItemFilter.Create(allow.Count == 0 ? null : allow, deny.Count == 0 ? null : deny, prefix);
    }
}

/// <summary>What one caller may use.</summary>
internal sealed class CallerAccess
{
    public static readonly CallerAccess All = new([]);

    private readonly IReadOnlyList<AccessPolicy.CompiledRole> _roles;

    public CallerAccess(IReadOnlyList<AccessPolicy.CompiledRole> roles)
    {
        _roles = roles;
        IsUnrestricted = roles.Count == 0;
        AllTools = IsUnrestricted || roles.Any(r => r.Tools == ItemFilter.AllowAll);
        AllPrompts = IsUnrestricted || roles.Any(r => r.Prompts == ItemFilter.AllowAll);
        AllResources = IsUnrestricted || roles.Any(r => r.Resources == ItemFilter.AllowAll);
    }

    public bool IsUnrestricted { get; }
    public bool AllTools { get; }
    public bool AllPrompts { get; }
    public bool AllResources { get; }
    public string RoleNames => string.Join(", ", _roles.Select(r => r.Name));

    public bool CanUseTool(string name) => AllTools || _roles.Any(r => r.Tools.IsAllowed(name));
    public bool CanUsePrompt(string name) => AllPrompts || _roles.Any(r => r.Prompts.IsAllowed(name));
    public bool CanUseResource(string uri) => AllResources || _roles.Any(r => r.Resources.IsAllowed(uri));
}
