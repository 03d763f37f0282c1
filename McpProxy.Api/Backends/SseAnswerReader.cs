using McpProxy.Calls;

namespace McpProxy.Backends;

/// <summary>
/// Reads a backend's SSE response to the fast path's call (<see cref="BackendRawSend"/>) up to the event whose data is the
/// answer: events are parsed in place in one buffer, a notification's is looked at and skipped, and the answer's data is
/// handed over as a slice of that buffer. Each event is bounded by <c>[security] max_result_size</c> as it arrives.
/// </summary>
/// <remarks>
/// Hand-written rather than <see cref="System.Net.ServerSentEvents.SseParser"/>: the BCL parser hands each event's data
/// out as a span to copy, and grows its pooled line buffer by doubling — a 20 MiB result then costs its doubling buffers
/// (all resident in the pool) plus a copy. Here the buffer starts pooled and small and grows within the pool up to 1 MiB;
/// an event larger than that is read in segments and copied once into an array of its size
/// (<see cref="ReadLargeEventAsync"/>), and a large answer is that array itself, not another copy. The SSE grammar kept is
/// the part a JSON-RPC stream uses (WHATWG "event stream interpretation"): <c>data</c> lines (joined with <c>\n</c>),
/// other fields and comments ignored, lines ended by CR, LF or CRLF, a blank line ending the event, a leading BOM dropped,
/// an event cut off by the end of the stream dropped.
/// </remarks>
internal static class SseAnswerReader
{
    private const int InitialSize = 4 * 1024; // an answer of most calls fits; small arrays are the pool's most plentiful
    private const int MaxPooledSize = 1024 * 1024;

    /// <summary>
    /// Reads events until <paramref name="answer"/> returns non-null for one's data (which it may keep: it is never a
    /// pooled buffer), and returns that.
    /// </summary>
    /// <exception cref="IOException">The stream ended before the answer.</exception>
    public static ValueTask<T> ReadAsync<T>(Stream stream, long limit, Func<Exception> tooLarge, Func<ReadOnlyMemory<byte>, T?> answer, CancellationToken cancellationToken)
        where T : class =>
        ReadAsync(stream, limit, tooLarge, static (message, answer) => answer(message), answer, cancellationToken);

    /// <summary>As <see cref="ReadAsync{T}(Stream, long, Func{Exception}, Func{ReadOnlyMemory{byte}, T}, CancellationToken)"/>, with a state for <paramref name="answer"/> (no closure per call).</summary>
    public static async ValueTask<T> ReadAsync<T, TState>(
        Stream stream, long limit, Func<Exception> tooLarge, Func<ReadOnlyMemory<byte>, TState, T?> answer, TState answerState, CancellationToken cancellationToken)
        where T : class
    {
        var buffer = CallBuffers.Pool.Rent(InitialSize);
        var pooled = true;
        try
        {
            var state = new State();
            var end = 0;
            var first = true;
            var assembled = false;
            while (true)
            {
                if (end == buffer.Length)
                {
                    // Drop what earlier events used, then grow if the current event still fills the buffer.
                    var from = state.EventStart;
                    if (from > 0)
                    {
                        buffer.AsSpan(from, end - from).CopyTo(buffer);
                        end -= from;
                        state.Shift(from);
                    }

                    if (end == buffer.Length && (long)buffer.Length * 2 > MaxPooledSize)
                    {
                        // One event larger than the pool's largest buffer: its end is looked for in segments, and it is
                        // then copied once into an array of its size and parsed there.
                        var (whole, length) = await ReadLargeEventAsync(stream, buffer, end, limit, tooLarge, cancellationToken).ConfigureAwait(false);
                        if (pooled)
                        {
                            CallBuffers.Pool.Return(buffer);
                        }

                        (buffer, end, pooled, assembled) = (whole, length, false, true);
                        state = new State();
                        first = false;
                    }
                    else if (end == buffer.Length)
                    {
                        var larger = CallBuffers.Pool.Rent(buffer.Length * 2);
                        buffer.AsSpan(0, end).CopyTo(larger);
                        if (pooled)
                        {
                            CallBuffers.Pool.Return(buffer);
                        }

                        (buffer, pooled) = (larger, true);
                    }
                }

                if (!assembled)
                {
                    var read = await stream.ReadAsync(buffer.AsMemory(end), cancellationToken).ConfigureAwait(false);
                    if (read == 0)
                    {
                        throw new IOException("The backend's response stream ended before its answer.");
                    }

                    if (first && end + read >= 3)
                    {
                        first = false;
                        if (buffer.AsSpan(0, 3).SequenceEqual("\uFEFF"u8))
                        {
                            state.Skip(3);
                        }
                    }

                    end += read;
                }

                assembled = false;
                while (state.NextEvent(buffer, end))
                {
                    if (state.LastEventLength > limit)
                    {
                        throw tooLarge();
                    }

                    var data = state.Data;
                    ReadOnlyMemory<byte> message = data.Count == 1
                        ? buffer.AsMemory(data[0].Start, data[0].Length)
                        : Join(buffer, data);
                    if (pooled && data.Count == 1)
                    {
                        message = message.ToArray(); // the answer may keep it: never a pooled buffer
                    }

                    if (answer(message, answerState) is { } found)
                    {
                        return found;
                    }
                }

                if (end - state.EventStart > limit)
                {
                    throw tooLarge();
                }
            }
        }
        finally
        {
            if (pooled)
            {
                CallBuffers.Pool.Return(buffer);
            }
        }
    }

    private const int SegmentSize = MaxPooledSize;

    /// <summary>
    /// Reads the rest of an event that <paramref name="head"/> (<c>[0..headEnd]</c>, the event's first bytes) could not hold,
    /// into segments, until the blank line that ends it, and returns everything read — the event whole, and whatever
    /// followed it in the last read — in one array of that size.
    /// </summary>
    /// <remarks>
    /// Growing one buffer by doubling would leave every smaller array behind, each filled (so resident) and garbage
    /// until a full collection: about 2.5 times the event at the peak. Here the peak is the segments and the copy: twice
    /// the event. The segments are plain arrays, not the pool's: a pool would keep them resident after a large answer.
    /// </remarks>
    private static async ValueTask<(byte[] Whole, int Length)> ReadLargeEventAsync(
        Stream stream, byte[] head, int headEnd, long limit, Func<Exception> tooLarge, CancellationToken cancellationToken)
    {
        var scanner = new EventEndScanner();
        long eventLength = scanner.Find(head.AsSpan(0, headEnd));
        var segments = new List<byte[]>();
        long total = headEnd;
        var filled = 0; // in the last segment; the others are full
        while (eventLength < 0)
        {
            if (total > limit)
            {
                throw tooLarge();
            }

            if (segments.Count == 0 || filled == SegmentSize)
            {
                segments.Add(GC.AllocateUninitializedArray<byte>(SegmentSize));
                filled = 0;
            }

            var segment = segments[^1];
            var read = await stream.ReadAsync(segment.AsMemory(filled), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                throw new IOException("The backend's response stream ended before its answer.");
            }

            if (scanner.Find(segment.AsSpan(filled, read)) is var at and >= 0)
            {
                eventLength = total + at;
            }

            filled += read;
            total += read;
        }

        if (eventLength > limit || total > Array.MaxLength)
        {
            throw tooLarge();
        }

        var whole = GC.AllocateUninitializedArray<byte>((int)total);
        head.AsSpan(0, headEnd).CopyTo(whole);
        var to = headEnd;
        for (var i = 0; i < segments.Count; i++)
        {
            var count = i == segments.Count - 1 ? filled : SegmentSize;
            segments[i].AsSpan(0, count).CopyTo(whole.AsSpan(to));
            to += count;
        }

        return (whole, (int)total);
    }

    /// <summary>
    /// Finds where an event ends — the blank line after its lines, lines ended by CR, LF or CRLF — in bytes fed to it in
    /// order from the event's first byte.
    /// </summary>
    private struct EventEndScanner()
    {
        private bool _atLineStart = true;
        private bool _afterCr;

        /// <summary>The index in <paramref name="bytes"/> just past the line end that ends the event; -1 when not in them.</summary>
        public int Find(ReadOnlySpan<byte> bytes)
        {
            var i = 0;
            while (i < bytes.Length)
            {
                var b = bytes[i];
                if (_afterCr && b == (byte)'\n')
                {
                    _afterCr = false; // the LF of a CRLF: the line ended at the CR
                    i++;
                    continue;
                }

                _afterCr = false;
                if (b is (byte)'\r' or (byte)'\n')
                {
                    if (_atLineStart)
                    {
                        return i + 1;
                    }

                    _atLineStart = true;
                    _afterCr = b == (byte)'\r';
                    i++;
                    continue;
                }

                _atLineStart = false;
                var next = bytes[i..].IndexOfAny((byte)'\r', (byte)'\n');
                if (next < 0)
                {
                    return -1;
                }

                i += next;
            }

            return -1;
        }
    }

    private static byte[] Join(byte[] buffer, List<(int Start, int Length)> data)
    {
        var joined = new byte[data.Sum(d => d.Length) + data.Count - 1];
        var at = 0;
        foreach (var (start, length) in data)
        {
            if (at > 0)
            {
                joined[at++] = (byte)'\n';
            }

            buffer.AsSpan(start, length).CopyTo(joined.AsSpan(at));
            at += length;
        }

        return joined;
    }

    /// <summary>Where the parse is: the current line and event, and the current event's data lines.</summary>
    private sealed class State
    {
        private readonly List<(int Start, int Length)> _data = new(1);
        private int _line;
        private bool _dispatched;
        private bool _afterCr;

        /// <summary>How many bytes the event <see cref="NextEvent"/> returned last took on the stream.</summary>
        public int LastEventLength { get; private set; }

        /// <summary>Where the event being read starts (what lies before it is done with).</summary>
        public int EventStart { get; private set; }

        public void Skip(int count)
        {
            _line += count;
            EventStart += count;
        }

        public void Shift(int by)
        {
            _line -= by;
            EventStart -= by;
            for (var i = 0; i < _data.Count; i++)
            {
                _data[i] = (_data[i].Start - by, _data[i].Length);
            }
        }

        /// <summary>The data lines of the event <see cref="NextEvent"/> found (valid until it is called again).</summary>
        public List<(int Start, int Length)> Data => _data;

        /// <summary>Whether a complete event with data lies in <c>buffer[..end]</c> (its lines: <see cref="Data"/>); false when more bytes are needed.</summary>
        public bool NextEvent(byte[] buffer, int end)
        {
            if (_dispatched)
            {
                _data.Clear();
                _dispatched = false;
            }

            while (_line < end)
            {
                if (_afterCr && buffer[_line] == (byte)'\n')
                {
                    _afterCr = false; // the LF of a CRLF: the line ended at the CR
                    _line++;
                    EventStart = _data.Count == 0 ? _line : EventStart;
                    continue;
                }

                var length = buffer.AsSpan(_line, end - _line).IndexOfAny((byte)'\r', (byte)'\n');
                if (length < 0)
                {
                    return false;
                }

                var line = buffer.AsSpan(_line, length);
                var start = _line;
                _afterCr = buffer[_line + length] == (byte)'\r';
                _line += length + 1;
                if (line.IsEmpty)
                {
                    if (_data.Count > 0)
                    {
                        _dispatched = true;
                        LastEventLength = _line - EventStart;
                        EventStart = _line;
                        return true;
                    }

                    EventStart = _line;
                    continue;
                }

                if (line.StartsWith("data"u8) && (line.Length == 4 || line[4] == (byte)':'))
                {
                    var value = line.Length == 4 ? 4 : line.Length > 5 && line[5] == (byte)' ' ? 6 : 5;
                    _data.Add((start + value, line.Length - value));
                }
            }

            return false;
        }
    }
}
