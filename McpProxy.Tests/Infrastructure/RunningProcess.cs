using System.Diagnostics;

namespace McpProxy.Tests.Infrastructure;

/// <summary>A started process whose stdout and stderr are read to the end; killed (with its children) when disposed.</summary>
internal sealed class RunningProcess : IDisposable
{
    public RunningProcess(Process process)
    {
        Process = process;
        Stdout = process.StandardOutput.ReadToEndAsync();
        Stderr = process.StandardError.ReadToEndAsync();
    }

    public Process Process { get; }
    public Task<string> Stdout { get; }
    public Task<string> Stderr { get; }

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
            Process.WaitForExit(10_000);
        }

        Process.Dispose();
    }
}
