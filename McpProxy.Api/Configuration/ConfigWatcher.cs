using McpProxy.Backends;

namespace McpProxy.Configuration;

/// <summary>
/// <c>[proxy] hot_reload = true</c>: watches the config file and applies a changed <c>[[backends]]</c> list without a
/// restart (<see cref="BackendRegistry.ApplyAsync"/>). A new file that does not load (bad TOML, a failed validation
/// rule) is rejected with every error logged, and the running config keeps serving. Other sections take effect on the
/// next restart; a change to them is logged as such.
/// </summary>
internal sealed partial class ConfigWatcher(ProxyConfig config, BackendRegistry registry, ILogger<ConfigWatcher> logger) : BackgroundService
{
    private static readonly TimeSpan Debounce = TimeSpan.FromMilliseconds(250);

    /// <summary>Successful reloads so far (tests and the admin API read it).</summary>
    public int Reloads { get; private set; }

    /// <summary>Rejected reloads so far.</summary>
    public int Rejected { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!config.Proxy.HotReload || config.SourcePath is not { } path)
        {
            return;
        }

        var changed = System.Threading.Channels.Channel.CreateBounded<bool>(new System.Threading.Channels.BoundedChannelOptions(1)
        {
            FullMode = System.Threading.Channels.BoundedChannelFullMode.DropWrite,
        });
        using var watcher = new FileSystemWatcher(Path.GetDirectoryName(path)!, Path.GetFileName(path))
        {
            NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.FileName | NotifyFilters.CreationTime,
        };
        FileSystemEventHandler onChange = (_, _) => changed.Writer.TryWrite(true);
        watcher.Changed += onChange;
        watcher.Created += onChange;
        watcher.Renamed += (_, _) => changed.Writer.TryWrite(true); // editors that save by rename
        watcher.EnableRaisingEvents = true;
        LogWatching(path);

        var lastText = await ReadQuietlyAsync(path, stoppingToken);
        while (await changed.Reader.WaitToReadAsync(stoppingToken))
        {
            // Let the writer finish (editors write in several steps), then take one snapshot.
            await Task.Delay(Debounce, stoppingToken);
            changed.Reader.TryRead(out _);
            var text = await ReadQuietlyAsync(path, stoppingToken);
            if (text is null || text == lastText)
            {
                continue;
            }

            lastText = text;
            await ReloadAsync(path, text, stoppingToken);
        }
    }

    internal async Task ReloadAsync(string path, string text, CancellationToken cancellationToken)
    {
        ProxyConfig next;
        try
        {
            next = ConfigLoader.Parse(text, path);
        }
        catch (ConfigException ex)
        {
            Rejected++;
            LogRejected(path, ex.Errors.Count, string.Join(Environment.NewLine, ex.Errors.Select(e => e.ToString())));
            return;
        }

        if (!SameOutsideBackends(config, next))
        {
            LogRestartNeeded(path);
        }

        var (added, removed, replaced) = await registry.ApplyAsync(next.Backends, cancellationToken);
        Reloads++;
        LogReloaded(path, string.Join(", ", added), string.Join(", ", removed), string.Join(", ", replaced));
    }

    private static bool SameOutsideBackends(ProxyConfig a, ProxyConfig b) =>
        System.Text.Json.JsonSerializer.Serialize(a with { Backends = [], SourcePath = null, BaseDirectory = "" }) ==
        System.Text.Json.JsonSerializer.Serialize(b with { Backends = [], SourcePath = null, BaseDirectory = "" });

    private static async Task<string?> ReadQuietlyAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            return await File.ReadAllTextAsync(path, cancellationToken);
        }
        catch (IOException)
        {
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Hot reload: watching {Path}")]
    private partial void LogWatching(string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "Hot reload of {Path} applied: added [{Added}], removed [{Removed}], replaced [{Replaced}]")]
    private partial void LogReloaded(string path, string added, string removed, string replaced);

    [LoggerMessage(Level = LogLevel.Error, Message = "Hot reload of {Path} rejected ({Count} errors); the running config keeps serving:\n{Errors}")]
    private partial void LogRejected(string path, int count, string errors);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Hot reload of {Path}: sections other than [[backends]] changed; they take effect on the next restart")]
    private partial void LogRestartNeeded(string path);
}
