namespace McpProxy.Tests.Infrastructure;

/// <summary>Where the things the tests run live: the repo, the sample backend, the npm peers.</summary>
internal static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The sample backend's dll, copied next to the tests by the project reference.</summary>
    public static string SampleDll { get; } = Path.Combine(AppContext.BaseDirectory, "McpProxy.Backends.Sample.dll");

    public static string NodeModules => Path.Combine(RepoRoot, "node_modules");

    public static string EverythingServer => Path.Combine(NodeModules, "@modelcontextprotocol", "server-everything", "dist", "index.js");

    public static string MemoryServer => Path.Combine(NodeModules, "@modelcontextprotocol", "server-memory", "dist", "index.js");

    /// <summary>TOML string literal (basic string, escaped).</summary>
    public static string Toml(string value) => "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    /// <summary>A <c>[[backends]]</c> block pointing the proxy at an HTTP MCP endpoint, with extra keys.</summary>
    public static string HttpBackend(string name, Uri endpoint, string extra = "") =>
        $"""
        [[backends]]
        name = "{name}"
        transport = "http"
        url = "{endpoint}"
        {extra}

        """;

    /// <summary>A <c>[[backends]]</c> block running <c>@modelcontextprotocol/server-everything</c> (a legacy-era peer) over stdio, with extra keys.</summary>
    public static string EverythingStdioBackend(string name, string extra = "") =>
        $"""
        [[backends]]
        name = "{name}"
        transport = "stdio"
        command = "node"
        args = [{Toml(EverythingServer)}, "stdio"]
        {extra}

        """;

    /// <summary>A <c>[[backends]]</c> block running the sample backend over stdio with extra args.</summary>
    public static string SampleStdioBackend(string name, params string[] extraArgs) =>
        $"""
        [[backends]]
        name = "{name}"
        transport = "stdio"
        command = "dotnet"
        args = [{string.Join(", ", new[] { SampleDll, "--stdio" }.Concat(extraArgs).Select(Toml))}]

        """;

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "McpProxy.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("McpProxy.slnx not found above " + AppContext.BaseDirectory);
    }
}
