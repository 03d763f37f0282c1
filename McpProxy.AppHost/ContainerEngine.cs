using System.Diagnostics;

namespace McpProxy.AppHost;

/// <summary>Whether a container engine answers here (the runtime Aspire would use: docker, or ASPIRE_CONTAINER_RUNTIME).</summary>
public static class ContainerEngine
{
    /// <summary>
    /// <c>McpProxy:UseContainers</c> when set (<c>true</c>/<c>false</c>); otherwise whether <c>docker info</c> (or the
    /// configured runtime's) succeeds within a few seconds. Publishing always models containers.
    /// </summary>
    public static bool ShouldUse(string? setting, bool publishing, string? runtime)
    {
        if (publishing)
        {
            return true;
        }

        if (bool.TryParse(setting, out var explicitChoice))
        {
            return explicitChoice;
        }

        return Answers(string.IsNullOrWhiteSpace(runtime) ? "docker" : runtime);
    }

    private static bool Answers(string runtime)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(runtime, ["info", "--format", "{{.ServerVersion}}"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            });
            if (process is null)
            {
                return false;
            }

            _ = process.StandardOutput.ReadToEndAsync();
            _ = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromSeconds(5)))
            {
                process.Kill(entireProcessTree: true);
                return false;
            }

            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false; // not installed
        }
    }
}
