namespace McpProxy.Configuration.Validation;

/// <summary>
/// <c>[auth]</c>, <c>[[auth.roles]]</c> and <c>[auth.role_mapping]</c>: the keys of each auth type, bearer tokens, the
/// JWT issuer, audience and key set, token types, unique role names, and every role named elsewhere defined.
/// </summary>
internal sealed class AuthValidator : IConfigValidator
{
    public void Validate(ProxyConfig config, ConfigErrors diagnostics)
    {
        if (config.Auth is not { } auth || diagnostics.SectionOf(auth) is not { } s)
        {
            return;
        }

        AuthType? type = s.Usable("type") ? auth.Type : null;
        var typeText = (s.Table.Entries.GetValueOrDefault("type") as TomlScalar)?.Value as string;

        // Keys of the other auth type would be silently ignored: an error, so a half-converted [auth] is noticed.
        foreach (var key in (type == AuthType.Bearer ? ConfigReader.JwtOnlyKeys : type == AuthType.Jwt ? ConfigReader.BearerOnlyKeys : []).Where(s.Has))
        {
            s.Error(key, $"'{key}' is only used by {(type == AuthType.Bearer ? "jwt" : "bearer")} auth (this [auth] has type = \"{typeText}\"); remove it");
        }

        if (type == AuthType.Bearer)
        {
            Bearer(s, auth);
        }
        else if (type == AuthType.Jwt)
        {
            Jwt(s, auth);
        }

        Roles(auth, diagnostics);
        string DefinedRoles() =>
            auth.Roles.Count == 0 ? "no roles are defined in [[auth.roles]]" : "defined roles: " + string.Join(", ", auth.Roles.Select(r => r.Name).Order(StringComparer.Ordinal));
        if (auth.DefaultRole is { } defaultRole && !auth.Roles.Any(r => r.Name == defaultRole))
        {
            s.Error("default_role", $"unknown role '{defaultRole}' ({DefinedRoles()})");
        }

        foreach (var role in auth.AdminRoles)
        {
            if (!auth.Roles.Any(r => r.Name == role))
            {
                s.Error("admin_roles", $"unknown role '{role}' ({DefinedRoles()})");
            }
        }

        if (s.Usable("token_types"))
        {
            if (type == AuthType.Bearer)
            {
                s.Error("token_types", "applies to jwt auth only (static bearer tokens have no type)");
            }
            else if (auth.TokenTypes is { Count: 0 })
            {
                s.Error("token_types", "must list at least one token type (e.g. \"at+jwt\")");
            }
            else if (auth.TokenTypes.FirstOrDefault(t => string.IsNullOrWhiteSpace(t) || t.Any(char.IsWhiteSpace)) is { } badType)
            {
                s.Error("token_types", $"'{badType}' is not a token type (a media type name such as \"at+jwt\" or \"JWT\")");
            }
        }

        RoleMapping(auth, diagnostics);
    }

    private static void Bearer(ConfigSection s, AuthConfig auth)
    {
        if (!s.Has("tokens"))
        {
            s.Missing("tokens", "for bearer auth");
        }
        else if (s.Usable("tokens") && auth.Tokens.Count == 0)
        {
            s.Error("tokens", "must list at least one token for bearer auth");
        }
        else if (s.Usable("tokens") && auth.Tokens.Any(string.IsNullOrWhiteSpace))
        {
            s.Error("tokens", "tokens must not be empty");
        }
    }

    private static void Jwt(ConfigSection s, AuthConfig auth)
    {
        foreach (var (key, value) in new[] { ("issuer", auth.Issuer), ("audience", auth.Audience), ("jwks_uri", auth.JwksUri) })
        {
            if (!s.Has(key))
            {
                s.Missing(key, "for jwt auth");
            }
            else if (value is not null && string.IsNullOrWhiteSpace(value))
            {
                s.Error(key, "must not be empty");
            }
        }

        var jwksUri = auth.JwksUri;
        if (!string.IsNullOrWhiteSpace(jwksUri) && !ConfigValidator.IsHttpUri(jwksUri))
        {
            s.Error("jwks_uri", $"must be an absolute http or https URI (got '{jwksUri}')");
        }
        else if (!string.IsNullOrWhiteSpace(jwksUri) && new Uri(jwksUri) is { Scheme: "http", IsLoopback: false })
        {
            // The signing keys decide who gets in: fetched over plain HTTP they could be swapped on the way (the
            // JWKS retriever refuses http for non-loopback hosts at runtime too).
            s.Error("jwks_uri", $"must use https (got '{jwksUri}'); plain http is allowed for loopback hosts only");
        }
    }

    private static void Roles(AuthConfig auth, ConfigErrors diagnostics)
    {
        var names = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var role in auth.Roles)
        {
            if (diagnostics.SectionOf(role) is not { } s || !s.Usable("name"))
            {
                continue;
            }

            if (string.IsNullOrWhiteSpace(role.Name))
            {
                s.Error("name", "must not be empty");
            }
            else if (names.TryGetValue(role.Name, out var firstLine))
            {
                s.Error("name", $"duplicate role '{role.Name}' (first defined on line {firstLine})");
            }
            else
            {
                names[role.Name] = s.LineOf("name");
            }
        }
    }

    private static void RoleMapping(AuthConfig auth, ConfigErrors diagnostics)
    {
        if (auth.RoleMapping is not { } roleMapping || diagnostics.SectionOf(roleMapping) is not { } s)
        {
            return;
        }

        if (s.Usable("claim") && string.IsNullOrWhiteSpace(roleMapping.Claim))
        {
            s.Error("claim", "must not be empty");
        }

        if (s.Usable("mapping") && s.Table.Entries["mapping"] is TomlTableNode mappingTable)
        {
            var roleNames = auth.Roles.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
            foreach (var (value, role) in roleMapping.Mapping)
            {
                if (!roleNames.Contains(role))
                {
                    var defined = roleNames.Count == 0 ? "no roles are defined in [[auth.roles]]" : "defined roles: " + string.Join(", ", roleNames.Order(StringComparer.Ordinal));
                    s.ErrorAt($"mapping.{value}", mappingTable.Entries[value].Line, $"unknown role '{role}' ({defined})");
                }
            }
        }
    }
}
