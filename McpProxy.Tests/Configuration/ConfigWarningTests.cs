using McpProxy.Configuration;
using McpProxy.Tests.Infrastructure;
using static McpProxy.Tests.Configuration.ConfigTestSupport;

namespace McpProxy.Tests.Configuration;

/// <summary>
/// What is valid but probably not meant: the config loads (no <see cref="ConfigException"/>), and each warning names
/// file, line and key like an error does.
/// </summary>
public sealed class ConfigWarningTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mcp-proxy-warn-").FullName;

    [Fact]
    public void A_config_without_backends_loads_with_a_warning()
    {
        var warning = Assert.Single(Warnings("[proxy]\nname = \"empty\"\n"));

        Assert.Equal("backends", warning.Key);
        Assert.NotNull(warning.Line);
        Assert.Contains("no [[backends]] are configured", warning.Message);
        Assert.StartsWith("mcp-proxy.toml:", warning.ToString());
    }

    [Fact]
    public void Loopback_http_jwks_uri_is_allowed()
    {
        var config = Parse("[auth]\ntype = \"jwt\"\nissuer = \"https://x\"\naudience = \"a\"\njwks_uri = \"http://127.0.0.1:5000/jwks\"\n");
        Assert.Equal("http://127.0.0.1:5000/jwks", config.Auth!.JwksUri);
        Parse("[auth]\ntype = \"jwt\"\nissuer = \"https://x\"\naudience = \"a\"\njwks_uri = \"http://localhost/jwks\"\n");
    }

    [Fact]
    public void A_stdio_command_that_is_not_on_PATH_loads_with_a_warning_naming_backend_key_and_line()
    {
        var bin = Directory.CreateDirectory(Path.Combine(_dir, "bin")).FullName;
        File.WriteAllText(Path.Combine(bin, "present-tool"), "");
        var toml = """
            [[backends]]
            name = "here"
            transport = "stdio"
            command = "present-tool"

            [[backends]]
            name = "missing"
            transport = "stdio"
            command = "no-such-mcp-server-7f3a"
            """;

        var warning = Assert.Single(Warnings(toml, Env(("PATH", bin))));

        Assert.Equal(("backends.command", "missing", 9), (warning.Key, warning.Backend, warning.Line));
        Assert.Equal("mcp-proxy.toml:9: backends[missing].command: 'no-such-mcp-server-7f3a' was not found on PATH (nor as a file); the backend will be unavailable until it is installed", warning.ToString());
    }

    [Fact]
    public void Relative_and_absolute_commands_are_looked_up_as_files()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "tools"));
        File.WriteAllText(Path.Combine(_dir, "tools", "server.sh"), "");
        var toml = $"""
            [[backends]]
            name = "relative"
            transport = "stdio"
            command = "tools/server.sh"

            [[backends]]
            name = "absolute"
            transport = "stdio"
            command = {TestPaths.Toml(Path.Combine(_dir, "tools", "server.sh"))}

            [[backends]]
            name = "in-cwd"
            transport = "stdio"
            command = "./server.sh"
            cwd = "tools"

            [[backends]]
            name = "gone"
            transport = "stdio"
            command = "tools/gone.sh"
            """;
        var warnings = new List<ConfigError>();
        ConfigLoader.Parse(toml, Path.Combine(_dir, "mcp-proxy.toml"), NoEnv, warnings);

        var warning = Assert.Single(warnings);
        Assert.Equal("gone", warning.Backend);
    }

    [Fact]
    public void A_clean_config_has_no_warnings()
    {
        Assert.Empty(Warnings("[[backends]]\nname = \"remote\"\ntransport = \"http\"\nurl = \"http://localhost:9000/mcp\"\n"));
    }

    private static List<ConfigError> Warnings(string toml, Func<string, string?>? env = null)
    {
        var warnings = new List<ConfigError>();
        ConfigLoader.Parse(toml, "mcp-proxy.toml", env ?? NoEnv, warnings);
        return warnings;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
