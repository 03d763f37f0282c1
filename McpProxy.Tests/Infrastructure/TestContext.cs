namespace McpProxy.Tests;

internal static class TestContext
{
    /// <summary>A token that bounds a test's waits so a hang fails instead of stalling the run.</summary>
    public static CancellationToken Timeout(int seconds) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;
}
