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
