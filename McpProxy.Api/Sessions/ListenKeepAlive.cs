namespace McpProxy.Sessions;

/// <summary>The listen streams' settings: the SSE keep-alive period and the clock it runs on (tests inject theirs).</summary>
internal sealed class ListenOptions
{
    /// <summary>A listen stream silent this long gets an SSE comment line (<c>:</c>), so idle proxies and load balancers keep it.</summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>The keep-alive clock; the app's <see cref="TimeProvider"/> unless set.</summary>
    public TimeProvider? Time { get; set; }
}

/// <summary>
/// Middleware for <c>subscriptions/listen</c> POSTs (2026-07-28, <c>Mcp-Method: subscriptions/listen</c>): the SDK writes no
/// keep-alive, so the response body is wrapped in <see cref="SseKeepAliveStream"/>, which writes <c>:\n\n</c> when the
/// stream has been silent for <see cref="ListenOptions.KeepAliveInterval"/> — never before the SDK's own first event (so a
/// refused request still gets its 400/404), and only between events.
/// </summary>
internal sealed class ListenKeepAlive(RequestDelegate next, Microsoft.Extensions.Options.IOptions<ListenOptions> options, TimeProvider time)
{
    public Task InvokeAsync(HttpContext http) =>
        HttpMethods.IsPost(http.Request.Method)
        && string.Equals(http.Request.Headers["Mcp-Method"].ToString().Trim(), ModelContextProtocol.Protocol.RequestMethods.SubscriptionsListen, StringComparison.Ordinal)
            ? KeepAliveAsync(http)
            : next(http);

    private async Task KeepAliveAsync(HttpContext http)
    {
        var original = http.Response.Body;
        await using var wrapped = new SseKeepAliveStream(original, options.Value.KeepAliveInterval, options.Value.Time ?? time, http.RequestAborted);
        http.Response.Body = wrapped;
        try
        {
            await next(http);
        }
        finally
        {
            http.Response.Body = original;
        }
    }
}

/// <summary>
/// A response body that serializes writes and, on a timer, writes the SSE comment <c>:\n\n</c> when nothing was written for
/// a whole period and the last write ended an event (<c>\n\n</c>). Nothing is written before the first write of the server.
/// </summary>
internal sealed class SseKeepAliveStream : Stream
{
    private static readonly byte[] Comment = ":\n\n"u8.ToArray();
    private readonly Stream _inner;
    private readonly TimeSpan _period;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly CancellationTokenSource _stop;
    private readonly ITimer _timer;
    private long _lastWrite;
    private bool _atBoundary;
    private byte _last;

    public SseKeepAliveStream(Stream inner, TimeSpan period, TimeProvider time, CancellationToken aborted)
    {
        _inner = inner;
        _period = period;
        _time = time;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        _lastWrite = time.GetTimestamp();
        // Created now (not on a background task), so a test's clock moved after the first event finds it armed.
        _timer = time.CreateTimer(_ => _ = TickAsync(), null, period, period);
    }

    /// <summary>Keep-alive comments written so far.</summary>
    public int KeepAlives { get; private set; }

    private async Task TickAsync()
    {
        var ct = _stop.Token;
        try
        {
            if (!await _gate.WaitAsync(0, ct))
            {
                return; // a write is under way: the stream is not silent
            }

            try
            {
                if (_atBoundary && _time.GetElapsedTime(_lastWrite) >= _period)
                {
                    await _inner.WriteAsync(Comment, ct);
                    await _inner.FlushAsync(ct);
                    _lastWrite = _time.GetTimestamp();
                    KeepAlives++;
                }
            }
            finally
            {
                _gate.Release();
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            // The client went away or the response ended: the next write of the server reports it, not the timer.
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            await _inner.WriteAsync(buffer, cancellationToken);
            _lastWrite = _time.GetTimestamp();
            if (!buffer.IsEmpty)
            {
                var s = buffer.Span;
                var before = s.Length >= 2 ? s[^2] : _last;
                _last = s[^1];
                _atBoundary = before == (byte)'\n' && _last == (byte)'\n';
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            await _inner.FlushAsync(cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    public override void Flush() => _inner.Flush();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask DisposeAsync()
    {
        await _timer.DisposeAsync();
        await _stop.CancelAsync();
        _stop.Dispose();
        await base.DisposeAsync();
    }
}
