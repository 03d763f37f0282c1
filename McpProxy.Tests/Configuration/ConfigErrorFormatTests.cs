using McpProxy.Configuration;
using Xunit;

namespace McpProxy.Tests.Configuration;

/// <summary>How problems read: <c>file:line: key: message</c>, one per line in the exception message.</summary>
public sealed class ConfigErrorFormatTests
{
    [Fact]
    public void An_error_reads_file_line_key_with_backend_and_message()
    {
        var toml = string.Join('\n', Enumerable.Repeat("", 10)) + """

            [[backends]]
            name = "files"
            transport = "foo"
            """;

        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(toml, Path.Combine(Path.GetTempPath(), "mcp-proxy.toml"), _ => null));

        Assert.Equal(
            "mcp-proxy.toml:13: backends[files].transport: unknown transport 'foo' (expected \"stdio\" or \"http\")",
            Assert.Single(ex.Errors).ToString());
    }

    [Theory]
    [InlineData("/etc/mcp/mcp-proxy.toml", "backends.transport", "files", 12, "m", "mcp-proxy.toml:12: backends[files].transport: m")]
    [InlineData("/etc/mcp/mcp-proxy.toml", "backends", "#2", 3, "m", "mcp-proxy.toml:3: backends[#2]: m")]
    [InlineData("/etc/mcp/mcp-proxy.toml", "backends.aliases[1].to", "files", 9, "m", "mcp-proxy.toml:9: backends[files].aliases[1].to: m")]
    [InlineData("/etc/mcp/mcp-proxy.toml", "proxy.listen.port", null, 5, "m", "mcp-proxy.toml:5: proxy.listen.port: m")]
    [InlineData("/etc/mcp/mcp-proxy.toml", "", null, 2, "m", "mcp-proxy.toml:2: m")]
    [InlineData("/etc/mcp/mcp-proxy.toml", "", null, null, "m", "mcp-proxy.toml: m")]
    [InlineData(null, "auth.type", null, 7, "m", "line 7: auth.type: m")]
    [InlineData(null, "auth.type", null, null, "m", "auth.type: m")]
    public void ToString_leaves_out_what_is_unknown(string? file, string key, string? backend, int? line, string message, string expected)
    {
        Assert.Equal(expected, new ConfigError(key, backend, line, message) { SourcePath = file }.ToString());
    }

    [Fact]
    public void The_exception_message_lists_every_error_one_per_line()
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Parse("""
            [proxy.listen]
            port = -1
            path = "x"
            """, "/srv/p.toml", _ => null));

        Assert.Equal(Path.GetFullPath("/srv/p.toml"), ex.SourcePath);
        Assert.Equal(2, ex.Errors.Count);
        Assert.Equal(
            [
                "p.toml:2: proxy.listen.port: must be between 0 and 65535 (got -1)",
                "p.toml:3: proxy.listen.path: must start with '/' (got 'x')",
            ],
            ex.Message.Split(Environment.NewLine));
    }
}
