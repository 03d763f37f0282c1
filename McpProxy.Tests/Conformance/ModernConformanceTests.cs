using McpProxy.Tests.Infrastructure;

namespace McpProxy.Tests.Conformance;

/// <summary>
/// The official conformance suite's 2026-07-28 server scenarios (<c>--requirements 2026-07-28</c>: exactly the scenarios
/// that revision requires, plus the unscored extension and pending ones) against our own conformance backend: the sample
/// backend in <c>--conformance</c> mode (C# SDK, both eras on one endpoint, modern clients served statelessly).
/// The passing set must match the checked-in baseline (docs/conformance.md explains every failure).
/// </summary>
public sealed class ModernConformanceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mcp-proxy-conformance-2026-").FullName;

    /// <summary>Every scenario the 2026-07-28 requirements list, except <c>server-stateless</c> (see docs/conformance.md).</summary>
    internal static readonly string[] ExpectedDirect =
    [
        "caching", "completion-complete", "dns-rebinding-protection",
        "input-required-result-basic-elicitation", "input-required-result-basic-list-roots", "input-required-result-basic-sampling",
        "input-required-result-capability-check", "input-required-result-ignore-extra-params", "input-required-result-missing-input-response",
        "input-required-result-multi-round", "input-required-result-multiple-input-requests", "input-required-result-non-tool-request",
        "input-required-result-request-state", "input-required-result-result-type", "input-required-result-tampered-state",
        "input-required-result-unsupported-methods", "input-required-result-validate-input",
        "prompts-get-embedded-resource", "prompts-get-simple", "prompts-get-with-args", "prompts-get-with-image", "prompts-list",
        "resources-list", "resources-read-binary", "resources-read-text", "resources-templates-read", "sep-2164-resource-not-found",
        "server-sse-multiple-streams",
        "tools-call-audio", "tools-call-embedded-resource", "tools-call-error", "tools-call-image", "tools-call-mixed-content",
        "tools-call-simple-text", "tools-call-with-progress", "tools-list",

        // Not scored by the 2026-07-28 requirements (pending / extension), but passing.
        "http-header-validation", "tasks-status-notifications",
    ];

    [Fact]
    public async Task The_2026_07_28_server_scenarios_pass_against_our_conformance_backend_as_the_baseline_says()
    {
        await using var backend = await SampleHttpHost.StartAsync("--conformance");
        var direct = await RunModernAsync(backend.McpEndpoint, "direct");
        Assert.Equal(ExpectedDirect.Order(StringComparer.Ordinal), ConformanceSuite.Passed(direct));
    }

    /// <summary>
    /// The same scenarios through the proxy fronting the same backend (<c>namespaced = false</c>, so the scenarios' names
    /// reach it unchanged): every scenario that passes directly passes through the proxy, and the proxy-only passes are
    /// the baseline's.
    /// </summary>
    [Fact]
    public async Task Every_2026_07_28_scenario_that_passes_directly_passes_through_the_proxy()
    {
        await using var backend = await SampleHttpHost.StartAsync("--conformance");
        var direct = await RunModernAsync(backend.McpEndpoint, "direct");
        await using var proxy = await ProxyHost.StartAsync(backend.Backend("conformance", "namespaced = false"));
        var throughProxy = await RunModernAsync(proxy.McpEndpoint, "proxy");

        var regressions = direct.Where(kv => kv.Value && !throughProxy.GetValueOrDefault(kv.Key)).Select(kv => kv.Key).Order(StringComparer.Ordinal).ToList();
        Assert.True(regressions.Count == 0, "pass directly but fail through the proxy: " + string.Join(", ", regressions));
        Assert.Equal(
            ExpectedThroughProxyOnly.Order(StringComparer.Ordinal),
            throughProxy.Where(kv => kv.Value && !direct.GetValueOrDefault(kv.Key)).Select(kv => kv.Key).Order(StringComparer.Ordinal));
    }

    /// <summary>Scenarios that fail against the backend alone but pass through the proxy (docs/conformance.md says why).</summary>
    internal static readonly string[] ExpectedThroughProxyOnly = ["server-stateless"];

    /// <summary>Runs the 2026-07-28 server scenarios against <paramref name="endpoint"/>; scenario → passed.</summary>
    internal Task<Dictionary<string, bool>> RunModernAsync(Uri endpoint, string label) =>
        ConformanceSuite.RunAsync(endpoint, _dir, label, minimumScenarios: 37, "--requirements", "2026-07-28");

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
