using McpProxy.Backends;
using McpProxy.Configuration;
using McpProxy.Resilience;

namespace McpProxy.Reload;

/// <summary>
/// <c>[proxy] hot_reload = true</c>: watches the config file and applies a changed <c>[[backends]]</c> list without a
/// restart (<see cref="BackendRegistry.ApplyAsync"/>). A changed file is applied only once its content is stable: it is
/// read, then read again after <see cref="Debounce"/>, and only two identical reads count (a file caught half-written
/// differs on the second read and waits for the next). A new file that does not load (bad TOML, a failed validation
/// rule, a resilience pipeline the library refuses) is rejected with every error logged; a reload that fails for any
/// other reason (an exception while building or applying) is logged too. Either way the running config keeps serving
/// and the watcher keeps watching. Other sections take effect on the next restart; a change to them is logged as such.
/// </summary>
internal sealed partial class ConfigWatcher(ProxyConfig config, BackendRegistry registry, TimeProvider time, ILogger<ConfigWatcher> logger) : BackgroundService
{
    /// <summary>How long a changed file must stay the same before it is applied (tests lengthen it).</summary>
    internal TimeSpan Debounce { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Successful reloads so far (tests and the admin API read it).</summary>
    public int Reloads { get; private set; }

    /// <summary>Rejected reloads so far: the file did not load or failed the dry run.</summary>
    public int Rejected { get; private set; }

    /// <summary>Reloads that loaded but failed while being applied; the running config kept serving.</summary>
    public int Failed { get; private set; }

    /// <summary>Changes seen (each one is then read until stable); tests wait on it.</summary>
    public int ChangesSeen { get; private set; }

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
            changed.Reader.TryRead(out _);
            try
            {
                var text = await ReadStableAsync(path, changed.Reader, stoppingToken);
                if (text is null || text == lastText)
                {
                    continue;
                }

                lastText = text;
                await ReloadAsync(path, text, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // Never let the watcher die: a dead BackgroundService stops the whole host.
                LogFailed(path, ex.GetType().Name, ex.Message);
                Failed++; // after the log line: the counters are what tests and operators wait on
            }
        }
    }

    /// <summary>
    /// The file's content once two reads <see cref="Debounce"/> apart agree (each change seen in between restarts
    /// the wait); null when it cannot be read.
    /// </summary>
    private async Task<string?> ReadStableAsync(string path, System.Threading.Channels.ChannelReader<bool> changes, CancellationToken cancellationToken)
    {
        ChangesSeen++;
        var text = await ReadQuietlyAsync(path, cancellationToken);
        while (true)
        {
            await Task.Delay(Debounce, time, cancellationToken);
            changes.TryRead(out _);
            var again = await ReadQuietlyAsync(path, cancellationToken);
            if (again == text)
            {
                return text;
            }

            LogUnsettled(path);
            text = again;
        }
    }

    internal async Task ReloadAsync(string path, string text, CancellationToken cancellationToken)
    {
        ProxyConfig next;
        try
        {
            next = PipelineDryRun.ThrowIfInvalid(ConfigLoader.Parse(text, path));
        }
        catch (ConfigException ex)
        {
            LogRejected(path, ex.Errors.Count, string.Join("; ", ex.Errors.Select(e => e.ToString())));
            Rejected++; // after the log line: whoever sees the count also finds the line (issue 12 point 10)
            return;
        }

        await ApplyAsync(path, next, cancellationToken);
    }

    /// <summary>Applies a loaded config's backends; any failure is logged and leaves the running backends serving.</summary>
    internal async Task<bool> ApplyAsync(string path, ProxyConfig next, CancellationToken cancellationToken)
    {
        if (!SameOutsideBackends(config, next))
        {
            LogRestartNeeded(path);
        }

        try
        {
            var (added, removed, replaced) = await registry.ApplyAsync(next.Backends, cancellationToken);
            LogReloaded(path, string.Join(", ", added), string.Join(", ", removed), string.Join(", ", replaced));
            Reloads++; // after the log line
            return true;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            LogFailed(path, ex.GetType().Name, ex.Message);
            Failed++; // after the log line
            return false;
        }
    }

    private static bool SameOutsideBackends(ProxyConfig a, ProxyConfig b) =>
        (a with { Backends = [], SourcePath = null, BaseDirectory = "" }).Equals(b with { Backends = [], SourcePath = null, BaseDirectory = "" });

    private static async Task<string?> ReadQuietlyAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            return await File.ReadAllTextAsync(path, cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Hot reload: watching {Path}")]
    private partial void LogWatching(string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "Hot reload of {Path} applied: added [{Added}], removed [{Removed}], replaced [{Replaced}]")]
    private partial void LogReloaded(string path, string added, string removed, string replaced);

    [LoggerMessage(Level = LogLevel.Error, Message = "Hot reload of {Path} rejected ({Count} errors); the running config keeps serving: {Errors}")]
    private partial void LogRejected(string path, int count, string errors);

    [LoggerMessage(Level = LogLevel.Error, Message = "Hot reload of {Path} failed ({Type}: {Error}); the running config keeps serving")]
    private partial void LogFailed(string path, string type, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Hot reload: {Path} is still changing; waiting for it to settle")]
    private partial void LogUnsettled(string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Hot reload of {Path}: sections other than [[backends]] changed; they take effect on the next restart")]
    private partial void LogRestartNeeded(string path);
}
