namespace McpProxy.Configuration;

/// <summary>
/// Whether a stdio backend's <c>command</c> can be found where the process start will look: an absolute path as is, a
/// relative path (with a directory part) against the child's working directory or the proxy's, a bare name in the
/// <c>PATH</c> directories (with <c>PATHEXT</c> on Windows). The BCL has no "which"; this is the lookup .NET's
/// <c>Process.Start</c> does, reduced to a yes/no for <c>--check</c>'s warning.
/// </summary>
internal static class CommandLocator
{
    public static bool Exists(string command, string? path, string? workingDirectory)
    {
        if (Path.IsPathRooted(command))
        {
            return Candidates(command).Any(File.Exists);
        }

        if (command.Contains('/', StringComparison.Ordinal) || command.Contains(Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            return new[] { workingDirectory, Directory.GetCurrentDirectory() }
                .OfType<string>()
                .SelectMany(dir => Candidates(Path.GetFullPath(command, dir)))
                .Any(File.Exists);
        }

        return (path ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .SelectMany(dir => Candidates(Path.Combine(dir, command)))
            .Any(File.Exists);
    }

    private static IEnumerable<string> Candidates(string file)
    {
        yield return file;
        if (OperatingSystem.IsWindows() && !Path.HasExtension(file))
        {
            foreach (var ext in (Environment.GetEnvironmentVariable("PATHEXT") ?? ".COM;.EXE;.BAT;.CMD").Split(';', StringSplitOptions.RemoveEmptyEntries))
            {
                yield return file + ext;
            }
        }
    }
}
