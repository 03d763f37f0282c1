namespace McpProxy.Backends;

/// <summary>
/// Starts stdio children in their own session, and so their own process group, on Linux and macOS, so that a
/// terminal's Ctrl-C (SIGINT to the foreground process group) reaches the proxy only: the proxy then drains and stops
/// its children in order, instead of every child dying at once under calls in flight.
/// </summary>
/// <remarks>
/// How: the command is run through util-linux's <c>setsid</c> (<c>setsid command args…</c>). .NET's
/// <see cref="System.Diagnostics.Process"/> has no hook between fork and exec, and calling <c>setpgid(pid, pid)</c>
/// from the parent after <c>Process.Start</c> races the child's <c>exec</c> (after which it fails with EACCES), so a
/// P/Invoke cannot do it reliably without re-implementing process start (posix_spawn with its pipes). <c>setsid</c>
/// calls <c>setsid()</c> and execs the command in place — the child forked by .NET is not a group leader, so setsid
/// does not fork — so the process id the proxy watches, kills and reports is the command's own. It is part of
/// util-linux, installed on every Debian/Ubuntu/Fedora system and in the .NET container images. Where it is missing
/// (macOS, minimal images) the child is started as before, in the proxy's group. Windows: not applicable (no-op).
/// The command is resolved to a full path first, the way <c>Process.Start</c> resolves it (the proxy's PATH, not
/// the child's), so wrapping never changes which program runs.
/// </remarks>
internal static class ChildProcessGroup
{
    private const UnixFileMode ExecuteBits = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    /// <summary>The <c>setsid</c> program, or null when the children run in the proxy's process group.</summary>
    public static string? Setsid { get; } = OperatingSystem.IsWindows()
        ? null
        : new[] { "/usr/bin/setsid", "/bin/setsid", "/usr/local/bin/setsid" }.FirstOrDefault(File.Exists);

    /// <summary>The program and arguments that start <paramref name="command"/> in its own session when possible.</summary>
    public static (string Command, IReadOnlyList<string> Arguments) Wrap(string command, IReadOnlyList<string> arguments) =>
        Setsid is { } setsid && Resolve(command) is { } resolved
            ? (setsid, [resolved, .. arguments])
            : (command, arguments);

    /// <summary>
    /// <c>Process.Start</c>'s lookup on Unix: a rooted path as is; then next to the running executable; then the
    /// current directory; then each <c>PATH</c> directory. Only an executable file counts. Null when none is found
    /// (the command is then started unwrapped and fails exactly as it always did).
    /// </summary>
    private static string? Resolve(string command)
    {
        if (Path.IsPathRooted(command))
        {
            return Executable(command);
        }

        if (Path.GetDirectoryName(Environment.ProcessPath) is { } exeDir && Executable(Path.Combine(exeDir, command)) is { } nextToUs)
        {
            return nextToUs;
        }

        if (Executable(Path.Combine(Directory.GetCurrentDirectory(), command)) is { } inCwd)
        {
            return inCwd;
        }

        if (command.Contains('/', StringComparison.Ordinal))
        {
            return null;
        }

        return (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Executable(Path.Combine(dir, command)))
            .FirstOrDefault(path => path is not null);

        // Not executable: left unwrapped, so the start fails exactly as it did before (not as setsid's exit code 126).
        static string? Executable(string path) =>
            !OperatingSystem.IsWindows() && File.Exists(path) && (File.GetUnixFileMode(path) & ExecuteBits) != 0 ? Path.GetFullPath(path) : null;
    }
}
