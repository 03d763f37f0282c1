using System.Text.Json;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpProxy.Backends;

/// <summary>
/// The one long-lived <c>subscriptions/listen</c> request a connection keeps open to a modern (2026-07-28) backend:
/// there is no session to push <c>list_changed</c> or <c>resources/updated</c> on, so they arrive only on this stream.
/// The SDK client dispatches what the stream carries to the connection's notification handlers, so a modern backend
/// raises the same <see cref="BackendEvents"/> as a legacy one (catalog refresh, then the clients' <c>list_changed</c>;
/// <c>resources/updated</c> in read order). It asks for every list type and the clients' resource subscriptions
/// (<c>resourceSubscriptions</c>, which replace <c>resources/subscribe</c>); it is re-opened at once when that set
/// changes, and with capped exponential backoff when the backend ends it or it fails. Every acknowledgement after the
/// first refreshes the whole catalog: changes made while no stream was open were never announced.
/// </summary>
internal sealed partial class BackendListen(
    BackendConnection owner,
    McpClient client,
    ResourceSubscriptionSet subscriptions,
    ILogger logger,
    TimeProvider time) : IAsyncDisposable
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private TaskCompletionSource _ack = NewSignal();
    private CancellationTokenSource? _open;
    private int _acks;
    private Task? _loop;

    /// <summary>Opens the stream and waits (up to <paramref name="wait"/>) for the backend's acknowledgement.</summary>
    public async Task StartAsync(TimeSpan wait, CancellationToken cancellationToken)
    {
        var acked = NextAck();
        _loop = Task.Run(() => LoopAsync(_stop.Token), CancellationToken.None);
        await WaitAsync(acked, wait, cancellationToken);
    }

    /// <summary>Re-opens the stream (the resource subscriptions changed) and waits for the new acknowledgement.</summary>
    public async Task ReopenAsync(CancellationToken cancellationToken)
    {
        Task acked;
        lock (_gate)
        {
            if (_open is not { } open)
            {
                return; // between two streams: the next one carries the new set
            }

            acked = _ack.Task;
            open.Cancel();
        }

        await WaitAsync(acked, owner.CallTimeout, cancellationToken);
    }

    /// <summary><c>notifications/subscriptions/acknowledged</c>: the stream is open; a re-opened one refreshes the catalog.</summary>
    public ValueTask OnAcknowledged(JsonRpcNotification notification, CancellationToken cancellationToken)
    {
        TaskCompletionSource ack;
        lock (_gate)
        {
            ack = _ack;
            _ack = NewSignal();
        }

        ack.TrySetResult();
        LogAcknowledged(owner.Name, notification.Params?["notifications"]?.ToJsonString() ?? "{}");
        return Interlocked.Increment(ref _acks) > 1
            ? owner.RefreshCatalogAsync(CatalogParts.All, cancellationToken)
            : ValueTask.CompletedTask;
    }

    private Task NextAck()
    {
        lock (_gate)
        {
            return _ack.Task;
        }
    }

    private async Task WaitAsync(Task acked, TimeSpan wait, CancellationToken cancellationToken)
    {
        try
        {
            await acked.WaitAsync(wait, time, cancellationToken);
        }
        catch (TimeoutException)
        {
            LogNotAcknowledged(owner.Name, wait.TotalSeconds);
        }
    }

    private async Task LoopAsync(CancellationToken stop)
    {
        var backoff = TimeSpan.FromSeconds(1);
        while (!stop.IsCancellationRequested)
        {
            using var open = CancellationTokenSource.CreateLinkedTokenSource(stop);
            lock (_gate)
            {
                _open = open;
            }

            var opened = time.GetTimestamp();
            string ended;
            try
            {
                await client.SendRequestAsync(
                    new JsonRpcRequest
                    {
                        Method = RequestMethods.SubscriptionsListen,
                        Params = JsonSerializer.SerializeToNode(
                            new SubscriptionsListenRequestParams
                            {
                                Notifications = new SubscriptionsListenNotifications
                                {
                                    ToolsListChanged = true,
                                    PromptsListChanged = true,
                                    ResourcesListChanged = true,
                                    ResourceSubscriptions = subscriptions.Snapshot(),
                                },
                            },
                            McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(SubscriptionsListenRequestParams))),
                    },
                    open.Token);
                ended = "ended by the backend";
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (OperationCanceledException)
            {
                LogReopening(owner.Name, subscriptions.Count);
                continue; // the subscriptions changed: re-open at once
            }
            catch (Exception ex)
            {
                ended = ex.Message;
            }
            finally
            {
                lock (_gate)
                {
                    _open = null;
                }
            }

            // A stream that stayed open a while is re-opened quickly; one that keeps failing backs off.
            if (time.GetElapsedTime(opened) > MaxBackoff)
            {
                backoff = TimeSpan.FromSeconds(1);
            }

            LogEnded(owner.Name, ended, backoff.TotalSeconds);
            try
            {
                await Task.Delay(backoff, time, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_loop is not null)
        {
            try
            {
                await _loop;
            }
            catch (Exception ex)
            {
                LogEnded(owner.Name, ex.Message, 0);
            }
        }

        _stop.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Backend '{Backend}' listen stream acknowledged: {Notifications}")]
    private partial void LogAcknowledged(string backend, string notifications);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Backend '{Backend}' did not acknowledge subscriptions/listen within {Seconds} s; its list changes may be missed until it does")]
    private partial void LogNotAcknowledged(string backend, double seconds);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Backend '{Backend}' listen stream re-opened with {Subscriptions} resource subscriptions")]
    private partial void LogReopening(string backend, int subscriptions);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Backend '{Backend}' listen stream ended ({Reason}); re-opening in {Seconds} s")]
    private partial void LogEnded(string backend, string reason, double seconds);
}

/// <summary>The backend URIs clients are subscribed to (the ref counting is the sessions' job: this holds the union).</summary>
internal sealed class ResourceSubscriptionSet
{
    private readonly Lock _gate = new();
    private readonly HashSet<string> _uris = new(StringComparer.Ordinal);

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _uris.Count;
            }
        }
    }

    /// <summary>Adds or removes <paramref name="uri"/>; true when the set changed.</summary>
    public bool Change(string uri, bool subscribe)
    {
        lock (_gate)
        {
            return subscribe ? _uris.Add(uri) : _uris.Remove(uri);
        }
    }

    public IList<string> Snapshot()
    {
        lock (_gate)
        {
            return [.. _uris];
        }
    }
}
