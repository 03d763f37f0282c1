using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using McpProxy.Tests.Infrastructure;

namespace McpProxy.Tests.CommandLine;

/// <summary>
/// The README's admin API table names every field the endpoints answer, spelled as they answer it: the fields come
/// from the real endpoints of a running proxy, the names from the README's table row of each endpoint.
/// </summary>
public sealed partial class ReadmeAdminApiTests
{
    [Fact]
    public async Task Every_admin_field_is_documented_under_its_real_name()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        // Circuit breaker and outlier detection configured, so their objects are present and their fields answered.
        await using var proxy = await ProxyHost.StartAsync(backend.Backend("b", """
            [backends.circuit_breaker]
            minimum_calls = 5
            [backends.outlier_detection]
            consecutive_errors = 5
            """));
        using var http = new HttpClient { BaseAddress = proxy.BaseAddress };
        var readme = await File.ReadAllTextAsync(Path.Combine(TestPaths.RepoRoot, "README.md"));

        foreach (var endpoint in new[] { "/admin/backends", "/admin/health", "/admin/cache/stats" })
        {
            var row = readme.Split('\n').Single(l => l.StartsWith($"| `GET {endpoint}` |", StringComparison.Ordinal));
            var documented = Backticked().Matches(row).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
            var answer = (await http.GetFromJsonAsync<JsonNode>(endpoint))!;

            foreach (var field in FieldNames(answer, mapKeys: endpoint == "/admin/health" || endpoint == "/admin/cache/stats" ? "backends" : null))
            {
                Assert.True(documented.Contains(field), $"{endpoint} answers '{field}', which its README row does not name: {row}");
            }
        }
    }

    /// <summary>Property names, recursively; the keys of <paramref name="mapKeys"/> objects are data (backend names), not fields.</summary>
    private static IEnumerable<string> FieldNames(JsonNode? node, string? mapKeys)
    {
        switch (node)
        {
            case JsonArray array:
                foreach (var name in array.SelectMany(item => FieldNames(item, mapKeys)))
                {
                    yield return name;
                }

                break;
            case JsonObject obj:
                foreach (var (name, value) in obj)
                {
                    yield return name;
                    var children = name == mapKeys && value is JsonObject map ? map.Select(p => p.Value) : [value];
                    foreach (var child in children.SelectMany(c => FieldNames(c, null)))
                    {
                        yield return child;
                    }
                }

                break;
        }
    }

    [GeneratedRegex("`([A-Za-z_]+)`")]
    private static partial Regex Backticked();
}
