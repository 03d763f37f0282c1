using McpProxy.Calls;
using System.Buffers;
using System.Net;

namespace McpProxy.Backends;

/// <summary>
/// <c>[security] max_result_size</c> for an HTTP backend, in its HttpClient pipeline: every response body is read
/// through a stream that never lets one message past the limit. A JSON body is one message (a Content-Length over the
/// limit is refused before reading); an SSE stream is many, each event held back until it is complete (the SDK parses
/// whole events anyway) and bounded on its own. On a POST — the stream that carries a call's result — an oversized
/// message fails that call with <see cref="ResultTooLargeException"/>; on the session's GET stream (notifications and
/// backend requests) an oversized event is dropped and logged, and the stream carries on.
/// </summary>
internal sealed partial class ResultLimitHandler(string backend, long limit, ILogger logger) : DelegatingHandler
{
    private Func<Exception>? _tooLarge;

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        var content = response.Content;
        if (content.Headers.ContentLength > limit)
        {
            response.Dispose();
            throw new ResultTooLargeException(backend, limit);
        }

        response.Content = new LimitedContent(content, this, sse: content.Headers.ContentType?.MediaType == "text/event-stream", dropOversized: request.Method == HttpMethod.Get);
        return response;
    }

    /// <summary>
    /// The stream a response is read through: a JSON body is one message; an SSE stream's events are bounded each, passed
    /// through as they come on a POST (an oversized one fails the call anyway), held until complete on the GET stream so
    /// an oversized one can be dropped whole.
    /// </summary>
    private Stream Limit(Stream stream, bool sse, bool dropOversized) =>
        !sse ? new BodyLimitStream(stream, limit, TooLargeFactory)
        : dropOversized ? new SseEventLimitStream(stream, limit, () => LogEventDropped(backend, limit), TooLargeFactory)
        : new SseEventBoundStream(stream, limit, TooLargeFactory);

    private Func<Exception> TooLargeFactory => _tooLarge ??= () => new ResultTooLargeException(backend, limit);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Backend '{Backend}' sent an event larger than {Limit} bytes ([security] max_result_size) on its notification stream; dropped")]
    private partial void LogEventDropped(string backend, long limit);

    /// <summary>The backend's content, read through a limiting stream; same headers.</summary>
    private sealed class LimitedContent : HttpContent
    {
        private readonly HttpContent _inner;
        private readonly ResultLimitHandler _handler;
        private readonly bool _sse;
        private readonly bool _dropOversized;

        public LimitedContent(HttpContent inner, ResultLimitHandler handler, bool sse, bool dropOversized)
        {
            _inner = inner;
            _handler = handler;
            _sse = sse;
            _dropOversized = dropOversized;
            foreach (var header in inner.Headers)
            {
                Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }

        protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) =>
            _handler.Limit(await _inner.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), _sse, _dropOversized);

        protected override Task<Stream> CreateContentReadStreamAsync() => CreateContentReadStreamAsync(CancellationToken.None);

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await using var source = await CreateContentReadStreamAsync(cancellationToken).ConfigureAwait(false);
            await source.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}

/// <summary>A read-only pass-through stream base for the limiting streams.</summary>
internal abstract class LimitingStream(Stream inner) : Stream
{
    protected Stream Inner => inner;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }
}

/// <summary>A body that is one message: reading past the limit throws.</summary>
internal sealed class BodyLimitStream(Stream inner, long limit, Func<Exception> tooLarge) : LimitingStream(inner)
{
    private long _read;

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await Inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        _read += n;
        return _read > limit ? throw tooLarge() : n;
    }
}

/// <summary>
/// An SSE stream whose events are each at most the limit, passed through as they are read (no copy): the reader sees an
/// event's bytes as they arrive, and the read that takes an event past the limit throws. For the streams that answer one
/// call, where an oversized event fails the call (<see cref="SseEventLimitStream"/> holds events back to drop one whole).
/// </summary>
internal sealed class SseEventBoundStream(Stream inner, long limit, Func<Exception> tooLarge) : LimitingStream(inner)
{
    private long _eventLength;
    private bool _atLineStart = true;
    private bool _afterCr;

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await Inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        Count(buffer.Span[..n]);
        return n;
    }

    /// <summary>Adds the bytes to the current event, which a blank line (<c>\n\n</c>, <c>\r\r</c>, <c>\r\n\r\n</c>…) ends.</summary>
    private void Count(ReadOnlySpan<byte> span)
    {
        while (!span.IsEmpty)
        {
            if (_afterCr && span[0] == (byte)'\n')
            {
                _afterCr = false; // the \n of a \r\n: the line already ended at the \r
                span = span[1..];
                continue;
            }

            var terminator = span.IndexOfAny((byte)'\r', (byte)'\n');
            var take = terminator < 0 ? span.Length : terminator + 1;
            _afterCr = false;
            _eventLength += take;
            if (_eventLength > limit)
            {
                throw tooLarge();
            }

            if (terminator < 0)
            {
                _atLineStart = false;
                return;
            }

            _afterCr = span[terminator] == (byte)'\r';
            if (terminator == 0 && _atLineStart)
            {
                _eventLength = 0; // a blank line ends the event
            }

            _atLineStart = true;
            span = span[take..];
        }
    }
}

/// <summary>
/// An SSE stream whose events are each at most the limit: an event's bytes are held until its blank line, then handed
/// on. An event past the limit throws, or — with <c>onDropped</c> — is skipped to its end and reported.
/// </summary>
internal sealed class SseEventLimitStream(Stream inner, long limit, Action? onDropped, Func<Exception> tooLarge) : LimitingStream(inner)
{
    private const int ReadSize = 16 * 1024;
    private const int KeepCapacity = 1024 * 1024;

    private readonly byte[] _input = new byte[ReadSize];
    private int _inputStart;
    private int _inputEnd;
    private byte[] _event = new byte[ReadSize];
    private int _eventLength;
    private int _released; // > 0 while handing out a complete event: how much of it is handed out
    private bool _releasing;
    private bool _discarding;
    private bool _atLineStart = true;
    private bool _afterCr;
    private bool _ended;

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!_releasing)
        {
            if (_inputStart == _inputEnd)
            {
                if (_ended)
                {
                    return 0;
                }

                _inputStart = 0;
                _inputEnd = await Inner.ReadAsync(_input, cancellationToken).ConfigureAwait(false);
                if (_inputEnd == 0)
                {
                    // End of stream: hand on what is left (an incomplete event, which the SSE parser drops).
                    _ended = true;
                    if (_eventLength == 0 || _discarding)
                    {
                        return 0;
                    }

                    _releasing = true;
                    break;
                }
            }

            Scan();
        }

        var n = Math.Min(buffer.Length, _eventLength - _released);
        _event.AsSpan(_released, n).CopyTo(buffer.Span);
        _released += n;
        if (_released == _eventLength)
        {
            _releasing = false;
            _released = 0;
            _eventLength = 0;
            if (_event.Length > KeepCapacity)
            {
                // A large event's buffer goes back to the pool (issue 12 point 8: a 20 MB result otherwise cost ~64 MB
                // of fresh arrays here, doubling from 16 KiB, on every call).
                ArrayPool<byte>.Shared.Return(_event);
                _event = new byte[ReadSize];
            }
        }

        return n;
    }

    /// <summary>Consumes input up to the end of the current event (then releases it) or of the input.</summary>
    private void Scan()
    {
        while (_inputStart < _inputEnd)
        {
            var span = _input.AsSpan(_inputStart, _inputEnd - _inputStart);
            if (_afterCr && span[0] == (byte)'\n')
            {
                // The \n of a \r\n: the line already ended at the \r. Between events it is dropped.
                _afterCr = false;
                if (_eventLength > 0)
                {
                    Append(span[..1]);
                }

                _inputStart++;
                continue;
            }

            var terminator = span.IndexOfAny((byte)'\r', (byte)'\n');
            var take = terminator < 0 ? span.Length : terminator + 1;
            _afterCr = false;
            if (terminator != 0)
            {
                _atLineStart = false; // text before the terminator continues (or starts) the line
            }

            Append(span[..take]);
            _inputStart += take;
            if (terminator < 0)
            {
                return;
            }

            _afterCr = span[terminator] == (byte)'\r';
            if (!_atLineStart)
            {
                _atLineStart = true;
                continue;
            }

            // A blank line ends the event.
            if (_discarding)
            {
                _discarding = false;
                _eventLength = 0;
                continue;
            }

            _releasing = true;
            return;
        }
    }

    private void Append(ReadOnlySpan<byte> bytes)
    {
        if (_discarding)
        {
            return;
        }

        if (_eventLength + (long)bytes.Length > limit)
        {
            if (onDropped is null)
            {
                throw tooLarge();
            }

            onDropped();
            _discarding = true;
            _eventLength = 0;
            return;
        }

        if (_eventLength + bytes.Length > _event.Length)
        {
            var size = (int)Math.Min(Math.Max(_event.Length * 2L, _eventLength + bytes.Length), Math.Max(limit, _eventLength + bytes.Length));
            if (size <= KeepCapacity)
            {
                Array.Resize(ref _event, size);
            }
            else
            {
                // Past KeepCapacity the buffer is rented: large events reuse pooled arrays instead of allocating.
                var larger = ArrayPool<byte>.Shared.Rent(size);
                _event.AsSpan(0, _eventLength).CopyTo(larger);
                if (_event.Length > KeepCapacity)
                {
                    ArrayPool<byte>.Shared.Return(_event);
                }

                _event = larger;
            }
        }

        bytes.CopyTo(_event.AsSpan(_eventLength));
        _eventLength += bytes.Length;
    }
}
