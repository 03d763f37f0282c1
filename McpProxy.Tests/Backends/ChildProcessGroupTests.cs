using McpProxy.Backends;

namespace McpProxy.Tests.Backends;

/// <summary>How a stdio child's command is wrapped so it runs in its own session (see <see cref="ChildProcessGroup"/>).</summary>
public sealed class ChildProcessGroupTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mcp-proxy-pgroup-").FullName;

    [Fact]
    public void On_Linux_a_command_on_PATH_runs_through_setsid_by_its_full_path_with_the_arguments_unchanged()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        Assert.NotNull(ChildProcessGroup.Setsid); // util-linux is part of every supported Linux image

        var (command, arguments) = ChildProcessGroup.Wrap("sh", ["-c", "echo 'a b'"]);

        Assert.Equal(ChildProcessGroup.Setsid, command);
        Assert.True(Path.IsPathRooted(arguments[0]), arguments[0]);
        Assert.Equal("sh", Path.GetFileName(arguments[0]));
        Assert.Equal(["-c", "echo 'a b'"], arguments.Skip(1));
    }

    [Fact]
    public void A_command_that_cannot_be_found_or_run_is_left_as_it_is_so_the_start_fails_as_before()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var notExecutable = Path.Combine(_dir, "server.sh");
        File.WriteAllText(notExecutable, "#!/bin/sh\n");
        File.SetUnixFileMode(notExecutable, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var missing = ChildProcessGroup.Wrap("no-such-mcp-server-7f3a", ["x"]);
        Assert.Equal("no-such-mcp-server-7f3a", missing.Command);
        Assert.Equal(["x"], missing.Arguments);

        var plainFile = ChildProcessGroup.Wrap(notExecutable, []);
        Assert.Equal(notExecutable, plainFile.Command);
        Assert.Empty(plainFile.Arguments);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
