using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace McpProxy.Benchmarks;

/// <summary>A server under test: a real process on a loopback port, with its CPU time and memory read from /proc.</summary>
internal sealed class Participant : IAsyncDisposable
{
    private readonly Process _process;

    private Participant(string name, Process process, Uri endpoint)
    {
        Name = name;
        _process = process;
        Endpoint = endpoint;
    }

    public string Name { get; }
    public Uri Endpoint { get; }
    public int Pid => _process.Id;

    public static async Task<Participant> StartAsync(string name, string file, IEnumerable<string> args, int port, string path = "/mcp", IDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        psi.Environment["Logging__LogLevel__Default"] = "Warning";
        psi.Environment["DOTNET_gcServer"] = "0";
        foreach (var (k, v) in env ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }

        var process = Process.Start(psi) ?? throw new InvalidOperationException($"{name}: could not start {file}");
        _ = process.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
        _ = process.StandardError.BaseStream.CopyToAsync(Stream.Null);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{name} exited with {process.ExitCode} before listening");
            }

            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                break;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }

        return new Participant(name, process, new Uri($"http://127.0.0.1:{port}{path}"));
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>User + system CPU time of the process so far, by pid.</summary>
    public CpuSnapshot CpuTime() => new(new Dictionary<int, TimeSpan> { [Pid] = CpuTime(Pid) });

    /// <summary>
    /// User + system CPU time of the process's live descendants (a stdio backend, one child per session…), by pid, so
    /// that children which come and go between two snapshots do not make the difference negative.
    /// </summary>
    public CpuSnapshot DescendantsCpuTime() => new(Descendants(Pid).Distinct().ToDictionary(pid => pid, CpuTime));

    /// <summary>User + system CPU time of a process so far, from /proc (0 once it has gone).</summary>
    public static TimeSpan CpuTime(int pid)
    {
        // /proc/<pid>/stat: fields 14 (utime) and 15 (stime), in clock ticks (100 per second on Linux).
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return TimeSpan.Zero;
        }

        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds(ticks / 100.0);
    }

    private static IEnumerable<int> Descendants(int pid)
    {
        var children = new List<int>();
        try
        {
            foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                var text = File.ReadAllText(Path.Combine(task, "children"));
                children.AddRange(text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(c => int.Parse(c, CultureInfo.InvariantCulture)));
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return children.Distinct().SelectMany(c => Descendants(c).Prepend(c));
    }

    /// <summary>Resident set size, in MiB.</summary>
    public double RssMiB() => Status("VmRSS:");

    /// <summary>The kernel's high-water mark of the resident set since the process started or <see cref="ResetPeakRss"/>, in MiB.</summary>
    public double PeakRssMiB() => Status("VmHWM:");

    /// <summary>Resets <see cref="PeakRssMiB"/> to the current RSS (<c>/proc/&lt;pid&gt;/clear_refs</c>, value 5); false where not allowed.</summary>
    public bool ResetPeakRss()
    {
        try
        {
            File.WriteAllText($"/proc/{Pid}/clear_refs", "5");
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private double Status(string field)
    {
        foreach (var line in File.ReadLines($"/proc/{Pid}/status"))
        {
            if (line.StartsWith(field, StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
            }
        }

        return double.NaN;
    }

    /// <summary>Kills the process and its children at once (the benchmark is being stopped).</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}

/// <summary>CPU time so far of a set of processes, by pid.</summary>
internal sealed record CpuSnapshot(IReadOnlyDictionary<int, TimeSpan> ByPid)
{
    public static CpuSnapshot Combine(IEnumerable<CpuSnapshot> snapshots) =>
        new(snapshots.SelectMany(s => s.ByPid).GroupBy(p => p.Key).ToDictionary(g => g.Key, g => g.First().Value));

    /// <summary>
    /// The CPU spent since <paramref name="before"/> by the processes alive now (a process started in between counts
    /// whole; one that exited in between is lost, which only under-counts).
    /// </summary>
    public TimeSpan Since(CpuSnapshot before) =>
        ByPid.Aggregate(TimeSpan.Zero, (sum, p) => sum + p.Value - (before.ByPid.TryGetValue(p.Key, out var then) && then <= p.Value ? then : TimeSpan.Zero));
}
