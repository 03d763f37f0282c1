using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace McpProxy.Tests.Infrastructure;

/// <summary>A real <c>redis-server</c> (Debian's package; <c>.ci/run</c> installs it) on a free loopback port, in memory only.</summary>
internal sealed class RedisServer : IAsyncDisposable
{
    private Process _process;

    private RedisServer((Process Process, int Port) spawned)
    {
        _process = spawned.Process;
        Port = spawned.Port;
    }

    public int Port { get; }

    /// <summary>The StackExchange.Redis configuration string, as Aspire's <c>ConnectionStrings__cache</c> carries it.</summary>
    public string ConnectionString => $"127.0.0.1:{Port}";

    public static async Task<RedisServer> StartAsync() => new(await SpawnAsync(FreePort()));

    /// <summary>A free loopback port with nothing listening on it (a Redis that is down).</summary>
    public static int FreePort() => TestCalls.FreePort();

    /// <summary>Kills the server (an outage): clients see their connection drop and the port refuse.</summary>
    public async Task StopAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
    }

    /// <summary>Starts a fresh, empty server on the same port (after <see cref="StopAsync"/>).</summary>
    public async Task RestartAsync()
    {
        await StopAsync();
        _process.Dispose();
        _process = (await SpawnAsync(Port)).Process;
    }

    private static async Task<(Process Process, int Port)> SpawnAsync(int port)
    {
        var process = Process.Start(new ProcessStartInfo("redis-server", ["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        }) ?? throw new InvalidOperationException("redis-server did not start (apt-get install -y redis-server)");
        _ = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();

        for (var i = 0; i < 100; i++)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return (process, port);
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }

        process.Kill();
        throw new InvalidOperationException($"redis-server did not listen on port {port}");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
