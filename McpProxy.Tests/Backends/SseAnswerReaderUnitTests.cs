using System.Text;
using McpProxy.Backends;

namespace McpProxy.Tests.Backends;

/// <summary>
/// The fast path's SSE reading: the answer is the first event whose data the caller takes, whatever the line endings,
/// comments, other fields, notifications before it and how the reads cut the stream; each event is bounded.
/// </summary>
public sealed class SseAnswerReaderUnitTests
{
    private static CancellationToken Ct => TestContext.Timeout(60);

    [Theory]
    [InlineData("\n")]
    [InlineData("\r\n")]
    [InlineData("\r")]
    public async Task The_answer_is_found_after_comments_fields_and_notifications_however_the_reads_cut_it(string eol)
    {
        var text = $"\uFEFF: keep-alive{eol}{eol}id: 1{eol}event: message{eol}data: {{\"method\":\"note\"}}{eol}{eol}retry: 5{eol}{eol}" +
                   $"id: 2{eol}data:{{\"id\":1,{eol}data: \"result\":{{}}}}{eol}{eol}data: {{\"id\":2}}{eol}{eol}";
        for (var piece = 1; piece <= 9; piece++)
        {
            var seen = new List<string>();
            var answer = await SseAnswerReader.ReadAsync(new PieceStream(Encoding.UTF8.GetBytes(text), piece), 1000, () => new InvalidDataException("too large"),
                data =>
                {
                    var json = Encoding.UTF8.GetString(data.Span);
                    seen.Add(json);
                    return json.Contains("\"id\"", StringComparison.Ordinal) ? json : null;
                }, Ct);

            Assert.Equal("{\"id\":1,\n\"result\":{}}", answer);
            Assert.Equal(["{\"method\":\"note\"}", "{\"id\":1,\n\"result\":{}}"], seen);
        }
    }

    [Fact]
    public async Task A_large_answer_grows_the_buffer_and_comes_back_whole()
    {
        var big = "{\"id\":1,\"result\":\"" + new string('x', 3 * 1024 * 1024) + "\"}";
        var text = "data: {\"method\":\"note\"}\n\n" + "data: " + big + "\n\n";
        var answer = await SseAnswerReader.ReadAsync(new PieceStream(Encoding.UTF8.GetBytes(text), 70_000), 4 * 1024 * 1024, () => new InvalidDataException("too large"),
            data => data.Span.StartsWith("{\"id\""u8) ? Encoding.UTF8.GetString(data.Span) : null, Ct);
        Assert.Equal(big, answer);
    }

    [Theory]
    [InlineData("\n", 70_000)]
    [InlineData("\r\n", 1_048_576)]
    [InlineData("\r", 333_333)]
    public async Task Events_larger_than_the_pooled_buffers_come_back_whole_after_and_before_others(string eol, int piece)
    {
        // Past 1 MiB an event is read in segments and assembled once: a large notification, then a large answer of
        // several data lines, each cut by the reads anywhere, with every line ending the protocol allows.
        var note = "{\"method\":\"note\",\"params\":\"" + new string('n', 1_500_000) + "\"}";
        var lines = new[] { "{\"id\":1,", "\"result\":\"" + new string('x', 2_500_000) + "\",", "\"more\":\"" + new string('y', 700_000) + "\"}" };
        var text = $": c{eol}{eol}data: {note}{eol}{eol}event: message{eol}" + string.Concat(lines.Select(l => $"data: {l}{eol}")) + eol + $"data: {{\"id\":2}}{eol}{eol}";
        var seen = new List<int>();
        var answer = await SseAnswerReader.ReadAsync(new PieceStream(Encoding.UTF8.GetBytes(text), piece), 8 * 1024 * 1024, () => new InvalidDataException("too large"),
            data =>
            {
                seen.Add(data.Length);
                return data.Span.StartsWith("{\"id\""u8) ? Encoding.UTF8.GetString(data.Span) : null;
            }, Ct);
        Assert.Equal(string.Join("\n", lines), answer);
        Assert.Equal([note.Length, answer.Length], seen);
    }

    [Theory]
    [InlineData(65_536)]
    [InlineData(4_000_000)]
    public async Task A_large_event_over_the_limit_is_refused_before_it_is_read_whole(int piece)
    {
        var text = "data: {\"id\":1,\"result\":\"" + new string('x', 6 * 1024 * 1024) + "\"}\n\n";
        var stream = new PieceStream(Encoding.UTF8.GetBytes(text), piece);
        await Assert.ThrowsAsync<InvalidDataException>(() => SseAnswerReader.ReadAsync(stream, 3 * 1024 * 1024,
            () => new InvalidDataException("too large"), data => "answer", Ct).AsTask());
        Assert.True(stream.Position < text.Length, "the rest of the stream is not read once the event is over the limit");
    }

    [Fact]
    public async Task A_stream_that_ends_inside_a_large_event_says_so()
    {
        var text = "data: {\"id\":1,\"result\":\"" + new string('x', 3 * 1024 * 1024);
        await Assert.ThrowsAsync<IOException>(() => SseAnswerReader.ReadAsync(new PieceStream(Encoding.UTF8.GetBytes(text), 100_000), 8 * 1024 * 1024,
            () => new InvalidDataException("too large"), data => "answer", Ct).AsTask());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(64)]
    [InlineData(100_000)]
    public async Task An_event_over_the_limit_is_refused_whether_or_not_it_arrives_in_one_read(int piece)
    {
        var text = "data: {\"method\":\"note\"}\n\n" + "data: {\"id\":1,\"result\":\"" + new string('x', 5000) + "\"}\n\n";
        await Assert.ThrowsAsync<InvalidDataException>(() => SseAnswerReader.ReadAsync(new PieceStream(Encoding.UTF8.GetBytes(text), piece), 1000,
            () => new InvalidDataException("too large"), data => data.Span.StartsWith("{\"id\""u8) ? "answer" : null, Ct).AsTask());
    }

    [Fact]
    public async Task A_stream_that_ends_before_the_answer_says_so_and_an_event_cut_off_is_not_an_answer()
    {
        var text = "data: {\"method\":\"note\"}\n\ndata: {\"id\":1,\"result\":{}}";
        var failure = await Assert.ThrowsAsync<IOException>(() => SseAnswerReader.ReadAsync(new PieceStream(Encoding.UTF8.GetBytes(text), 7), 1000,
            () => new InvalidDataException("too large"), data => data.Span.StartsWith("{\"id\""u8) ? "answer" : null, Ct).AsTask());
        Assert.Contains("ended before its answer", failure.Message, StringComparison.Ordinal);
    }

    /// <summary>A stream that hands out its bytes at most <c>piece</c> at a time.</summary>
    private sealed class PieceStream(byte[] bytes, int piece) : MemoryStream(bytes)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, piece)], cancellationToken);
    }
}
