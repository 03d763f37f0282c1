using McpProxy.Tests.Infrastructure;
using ModelContextProtocol;

namespace McpProxy.Tests.Security;

/// <summary>Runs alone: it measures what this process (the proxy) allocates, which other tests would blur.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AloneCollection
{
    public const string Name = "alone";
}

/// <summary>
/// <c>[security] max_result_size</c> bounds memory, not only the answer: an oversized stdio result is discarded as it is
/// read, so the proxy allocates a small multiple of the limit however large the backend's line is.
/// </summary>
[Collection(AloneCollection.Name)]
public sealed class ResultMemoryTests
{
    private static CancellationToken Ct => TestContext.Timeout(120);

    [Fact]
    public async Task A_32_MiB_stdio_result_against_a_1_MiB_limit_costs_the_proxy_a_few_MiB()
    {
        await using var proxy = await ProxyHost.StartAsync("""
            [security]
            max_result_size = 1048576

            """ + TestPaths.SampleStdioBackend("s"));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);
        var args = new Dictionary<string, object?> { ["size_kb"] = 32 * 1024 };
        await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync("s/large", args, cancellationToken: Ct).AsTask()); // warm-up

        var before = GC.GetTotalAllocatedBytes(precise: true);
        var error = await Assert.ThrowsAsync<McpProtocolException>(() => client.CallToolAsync("s/large", args, cancellationToken: Ct).AsTask());
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

        Assert.Contains("larger than 1048576 bytes ([security] max_result_size)", error.Message);
        // Reading the line whole would allocate at least 64 MiB (a 32 Mi-character string) plus the parsed result.
        Assert.True(allocated < 8L * 1024 * 1024, $"the proxy allocated {allocated / 1024} KiB for one oversized result");
    }
}
