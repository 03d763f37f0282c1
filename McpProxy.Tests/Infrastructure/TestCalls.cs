using ModelContextProtocol.Protocol;

namespace McpProxy.Tests.Infrastructure;

/// <summary>Small helpers shared by the integration tests: tool arguments, result text, polling.</summary>
internal static class TestCalls
{
    /// <summary>Arguments of the sample's <c>echo</c>-style tools.</summary>
    public static Dictionary<string, object?> Message(string text) => new() { ["message"] = text };

    /// <summary>The text of a result with exactly one text block.</summary>
    public static string Text(CallToolResult result) => Assert.IsType<TextContentBlock>(Assert.Single(result.Content)).Text;

    public static Task WaitUntil(Func<bool> condition) => WaitUntil(() => Task.FromResult(condition()));

    /// <summary>Polls <paramref name="condition"/> every 50 ms; fails the test after 20 s.</summary>
    public static async Task WaitUntil(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 20 s");
            await Task.Delay(50);
        }
    }
}
