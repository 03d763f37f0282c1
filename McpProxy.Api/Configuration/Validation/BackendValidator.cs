namespace McpProxy.Configuration.Validation;

/// <summary>
/// <c>[[backends]]</c>: names (set, unique, without the separator), the keys of each transport, capability filters,
/// mirrors and the one passthrough backend, aliases and argument injection — and a warning when there is no backend.
/// </summary>
internal sealed class BackendValidator : IConfigValidator
{
    public void Validate(ProxyConfig config, ConfigErrors diagnostics)
    {
        var separator = ProxyValidator.Separator(config, diagnostics);
        var names = new Dictionary<string, int>(StringComparer.Ordinal);
        var mirrors = new List<(ConfigSection Section, string Name, string MirrorOf)>();
        string? passthrough = null;
        foreach (var backend in config.Backends)
        {
            if (diagnostics.SectionOf(backend) is not { } s)
            {
                continue;
            }

            Name(s, backend, separator, names);
            Transport(s, backend, diagnostics);
            Filters(s);
            if (s.Usable("protocol") && !ConfigReader.BackendProtocols.Contains(backend.Protocol))
            {
                s.Error("protocol", $"unknown protocol '{backend.Protocol}' (expected one of {string.Join(", ", ConfigReader.BackendProtocols)})");
            }
            else if (s.Usable("discover_timeout_ms") && s.Has("discover_timeout_ms") && backend.Protocol != "auto")
            {
                s.Warn("discover_timeout_ms", $"has no effect with protocol = \"{backend.Protocol}\" (only \"auto\" probes with server/discover)");
            }

            var mirrorOf = backend.MirrorOf;
            if (mirrorOf is not null && string.IsNullOrWhiteSpace(mirrorOf))
            {
                s.Error("mirror_of", "must not be empty");
                mirrorOf = null;
            }

            Aliases(backend, separator, diagnostics);
            InjectArgs(backend, diagnostics);
            if (!backend.Namespaced)
            {
                if (passthrough is not null)
                {
                    s.Error("namespaced", $"only one backend may set namespaced = false (already '{passthrough}')");
                }
                else if (mirrorOf is not null)
                {
                    s.Error("namespaced", "a mirror is never routed to, so namespaced = false has no meaning on it");
                }

                passthrough ??= backend.Name;
            }

            if (mirrorOf is not null)
            {
                mirrors.Add((s, backend.Name, mirrorOf));
            }
        }

        foreach (var (s, name, mirrorOf) in mirrors)
        {
            if (string.Equals(mirrorOf, name, StringComparison.Ordinal))
            {
                s.Error("mirror_of", $"a backend cannot mirror itself ('{name}')");
            }
            else if (!names.ContainsKey(mirrorOf))
            {
                s.Error("mirror_of", $"unknown backend '{mirrorOf}' (mirror_of must name another [[backends]] entry)");
            }
        }

        if (config.Backends.Count == 0 && diagnostics.Errors.Count == 0 && diagnostics.SectionOf(config) is { } root)
        {
            // Valid (hot reload may add backends later), but a proxy with nothing behind it serves empty lists.
            diagnostics.Warn("backends", null, root.LineOf("backends"), "no [[backends]] are configured: the proxy will serve empty tool, prompt and resource lists");
        }
    }

    private static void Name(ConfigSection s, BackendConfig backend, string? separator, Dictionary<string, int> names)
    {
        if (!s.Usable("name"))
        {
            return;
        }

        var name = backend.Name;
        if (string.IsNullOrWhiteSpace(name))
        {
            s.Error("name", "must not be empty");
        }
        else if (separator is not null && name.Contains(separator, StringComparison.Ordinal))
        {
            s.Error("name", $"must not contain the separator '{separator}' (got '{name}')");
        }
        else if (names.TryGetValue(name, out var firstLine))
        {
            s.Error("name", $"duplicate backend name '{name}' (first defined on line {firstLine})");
        }
        else
        {
            names[name] = s.LineOf("name");
        }
    }

    private static void Transport(ConfigSection s, BackendConfig backend, ConfigErrors diagnostics)
    {
        if (!s.Usable("transport"))
        {
            return;
        }

        if (backend.Transport == BackendTransport.Stdio)
        {
            if (!s.Has("command"))
            {
                s.Missing("command", "for a stdio backend");
            }
            else if (backend.Command is { } command && string.IsNullOrWhiteSpace(command))
            {
                s.Error("command", "must not be empty");
            }
            else if (backend.Command is { } found && !CommandLocator.Exists(found, diagnostics.GetEnv("PATH"), WorkingDirectoryFor(diagnostics, backend.Cwd)))
            {
                s.Warn("command", $"'{found}' was not found on PATH (nor as a file); the backend will be unavailable until it is installed");
            }

            foreach (var key in ConfigReader.HttpOnlyKeys.Where(s.Has))
            {
                s.Error(key, $"'{key}' is only valid for http backends (this backend's transport is \"stdio\")");
            }
        }
        else
        {
            if (!s.Has("url"))
            {
                s.Missing("url", "for an http backend");
            }
            else if (backend.Url is { } url && !ConfigValidator.IsHttpUri(url))
            {
                s.Error("url", $"must be an absolute http or https URL (got '{url}')");
            }

            foreach (var key in ConfigReader.StdioOnlyKeys.Where(s.Has))
            {
                s.Error(key, $"'{key}' is only valid for stdio backends (this backend's transport is \"http\")");
            }
        }
    }

    private static void Filters(ConfigSection s)
    {
        foreach (var kind in new[] { "tools", "resources", "prompts" })
        {
            if (s.Has("expose_" + kind) && s.Has("hide_" + kind))
            {
                s.Error("hide_" + kind, $"expose_{kind} and hide_{kind} are mutually exclusive (use one or the other)");
            }
        }
    }

    private static void Aliases(BackendConfig backend, string? separator, ConfigErrors diagnostics)
    {
        var froms = new Dictionary<string, int>(StringComparer.Ordinal);
        var tos = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var alias in backend.Aliases)
        {
            if (diagnostics.SectionOf(alias) is not { } s)
            {
                continue;
            }

            if (!s.Usable("from"))
            {
                // missing (reported by the reader) or unreadable
            }
            else if (string.IsNullOrWhiteSpace(alias.From))
            {
                s.Error("from", "must not be empty");
            }
            else if (froms.TryGetValue(alias.From, out var firstFrom))
            {
                s.Error("from", $"tool '{alias.From}' is already aliased on line {firstFrom}");
            }
            else
            {
                froms[alias.From] = s.LineOf("from");
            }

            if (!s.Usable("to"))
            {
                // missing (reported by the reader) or unreadable
            }
            else if (string.IsNullOrWhiteSpace(alias.To))
            {
                s.Error("to", "must not be empty");
            }
            else if (separator is not null && alias.To.Contains(separator, StringComparison.Ordinal))
            {
                s.Error("to", $"must not contain the separator '{separator}' (got '{alias.To}')");
            }
            else if (tos.TryGetValue(alias.To, out var firstTo))
            {
                s.Error("to", $"duplicate alias '{alias.To}' (also used on line {firstTo})");
            }
            else
            {
                tos[alias.To] = s.LineOf("to");
            }
        }
    }

    private static void InjectArgs(BackendConfig backend, ConfigErrors diagnostics)
    {
        foreach (var inject in backend.InjectArgs)
        {
            if (diagnostics.SectionOf(inject) is { } s && s.Usable("tool") && string.IsNullOrWhiteSpace(inject.Tool))
            {
                s.Error("tool", "must not be empty");
            }
        }
    }

    /// <summary>The directory a stdio child starts in (for a relative <c>command</c>); null when the config has no file.</summary>
    private static string? WorkingDirectoryFor(ConfigErrors diagnostics, string? cwd) =>
        diagnostics.BaseDirectory is not { } dir ? null : string.IsNullOrWhiteSpace(cwd) ? dir : Path.GetFullPath(cwd, dir);
}
