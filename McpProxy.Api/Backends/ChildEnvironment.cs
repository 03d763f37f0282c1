using System.Collections;
using McpProxy.Configuration;
using ModelContextProtocol.Client;

namespace McpProxy.Backends;

/// <summary>
/// The environment a stdio child starts with. The proxy's own environment holds other backends' tokens and the admin
/// token, so by default a child gets only what programs need to run — the SDK's curated list
/// (<see cref="StdioClientTransportOptions.GetDefaultEnvironmentVariables"/>: PATH, HOME, USER, LOGNAME, SHELL, TERM;
/// on Windows APPDATA, HOMEDRIVE, HOMEPATH, LOCALAPPDATA, PATH, PATHEXT, PROCESSOR_ARCHITECTURE, PROGRAMFILES,
/// SYSTEMDRIVE, SYSTEMROOT, TEMP, USERNAME, USERPROFILE) plus the locale (LANG, LANGUAGE, LC_*), the temp directory
/// (TMPDIR, TMP, TEMP), WINDIR and COMSPEC on Windows, and DOTNET_ROOT for .NET children started through an apphost —
/// then its <c>[backends.env]</c> on top. <c>inherit_env = true</c> hands the child the whole environment instead.
/// </summary>
internal static class ChildEnvironment
{
    private static readonly string[] Extra = ["LANG", "LANGUAGE", "TMPDIR", "TMP", "TEMP", "WINDIR", "COMSPEC", "DOTNET_ROOT"];

    /// <summary>The variables a child of <paramref name="backend"/> gets (complete: the child inherits nothing else).</summary>
    public static Dictionary<string, string?> For(BackendConfig backend) => For(backend, Environment.GetEnvironmentVariables());

    internal static Dictionary<string, string?> For(BackendConfig backend, IDictionary current)
    {
        var comparer = OperatingSystem.IsWindows() ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal;
        var env = new Dictionary<string, string?>(comparer);
        if (backend.InheritEnv)
        {
            foreach (DictionaryEntry entry in current)
            {
                env[(string)entry.Key] = (string?)entry.Value;
            }
        }
        else
        {
            foreach (var (key, value) in StdioClientTransportOptions.GetDefaultEnvironmentVariables())
            {
                env[key] = value;
            }

            foreach (DictionaryEntry entry in current)
            {
                var key = (string)entry.Key;
                if (entry.Value is string value && !value.StartsWith("()", StringComparison.Ordinal)
                    && (key.StartsWith("LC_", StringComparison.Ordinal) || Extra.Contains(key, comparer)))
                {
                    env[key] = value;
                }
            }
        }

        foreach (var (key, value) in backend.Env)
        {
            env[key] = value;
        }

        return env;
    }
}
