namespace McpProxy.Benchmarks;

/// <summary>The McpProxy configs the benchmark writes: one shape (warn logs, metrics on — the allocation figures read them) with the tables each run adds.</summary>
internal static class ProxyToml
{
    public static async Task<string> WriteAsync(string work, string file, int port, string backends, string proxyTables = "", string name = "mcp-proxy-bench")
    {
        var path = Path.Combine(work, file);
        await File.WriteAllTextAsync(path, $"""
            [proxy]
            name = "{name}"
            [proxy.listen]
            port = {port}
            {proxyTables}
            [observability]
            log_level = "warn"
            [observability.metrics]
            enabled = true

            {backends}
            """);
        return path;
    }

    /// <summary>The HTTP sample as backend <c>http</c>, with extra keys.</summary>
    public static string HttpBackend(Uri endpoint, string extra = "") => $"""
        [[backends]]
        name = "http"
        transport = "http"
        url = "{endpoint}"
        {extra}

        """;
}
