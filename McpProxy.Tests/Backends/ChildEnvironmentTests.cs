using System.Text.Json.Nodes;
using McpProxy.Tests.Infrastructure;
using ModelContextProtocol.Client;
using static McpProxy.Tests.Infrastructure.TestCalls;

namespace McpProxy.Tests.Backends;

/// <summary>
/// A stdio child gets a minimal environment (PATH, HOME, locale, temp dir and what the platform needs) plus its
/// <c>[backends.env]</c> — never the proxy's own secrets — unless the backend sets <c>inherit_env = true</c>.
/// </summary>
public sealed class ChildEnvironmentTests
{
    private static CancellationToken Ct => TestContext.Timeout(90);

    // Set in this (the proxy's) process only: a secret another backend or the admin API would use.
    private static readonly string SecretName = "MCP_PROXY_TEST_SECRET_" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();

    static ChildEnvironmentTests() => Environment.SetEnvironmentVariable(SecretName, "s3cret-value");

    [Fact]
    public async Task A_stdio_child_gets_PATH_and_its_own_env_but_not_the_proxys_secrets()
    {
        await using var proxy = await ProxyHost.StartAsync(
            TestPaths.SampleStdioBackend("s") +
            """
            [backends.env]
            OWN_SETTING = "mine"

            """ + TestPaths.SampleStdioBackend("open") + "inherit_env = true\n");
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);

        var env = await EnvOf(client, "s/env", SecretName, "PATH", "OWN_SETTING", "HOME");
        Assert.Null(env[SecretName]);
        Assert.Equal(Environment.GetEnvironmentVariable("PATH"), (string?)env["PATH"]);
        Assert.Equal("mine", (string?)env["OWN_SETTING"]);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(Environment.GetEnvironmentVariable("HOME"), (string?)env["HOME"]);
        }

        // inherit_env = true: today's behaviour, the whole environment.
        var inherited = await EnvOf(client, "open/env", SecretName, "PATH");
        Assert.Equal("s3cret-value", (string?)inherited[SecretName]);
        Assert.NotNull((string?)inherited["PATH"]);
    }

    [Fact]
    public async Task A_variable_named_in_backends_env_is_passed_even_when_it_holds_a_secret()
    {
        await using var proxy = await ProxyHost.StartAsync(
            TestPaths.SampleStdioBackend("s") +
            $$"""
            [backends.env]
            {{SecretName}} = "${{{SecretName}}}"

            """,
            getEnv: Environment.GetEnvironmentVariable);
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);

        var env = await EnvOf(client, "s/env", SecretName);
        Assert.Equal("s3cret-value", (string?)env[SecretName]);
    }

    private static readonly McpProxy.Configuration.BackendConfig EnvBackend =
        new() { Name = "s", Env = new Dictionary<string, string> { ["LANG"] = "de_DE.UTF-8", ["OWN"] = "x" } };

    private static System.Collections.Hashtable CurrentEnvironment() => new()
    {
        ["PATH"] = "/usr/bin",
        ["LANG"] = "C.UTF-8",
        ["LC_ALL"] = "C",
        ["TMPDIR"] = "/tmp/x",
        ["DOTNET_ROOT"] = "/opt/dotnet",
        ["ADMIN_TOKEN"] = "secret",
        ["GITHUB_TOKEN"] = "secret",
        ["LANGUAGE"] = "() { evil; }",
    };

    [Fact]
    public void The_minimal_environment_keeps_locale_temp_and_path_and_drops_the_rest()
    {
        var current = CurrentEnvironment();
        var backend = EnvBackend;

        var env = McpProxy.Backends.ChildEnvironment.For(backend, current);
        Assert.Equal("C", env["LC_ALL"]);
        Assert.Equal("/tmp/x", env["TMPDIR"]);
        Assert.Equal("/opt/dotnet", env["DOTNET_ROOT"]);
        Assert.Equal("de_DE.UTF-8", env["LANG"]); // [backends.env] wins
        Assert.Equal("x", env["OWN"]);
        Assert.False(env.ContainsKey("ADMIN_TOKEN"));
        Assert.False(env.ContainsKey("GITHUB_TOKEN"));
        Assert.False(env.ContainsKey("LANGUAGE")); // a shell function definition is never passed on
    }

    [Fact]
    public void Inherit_env_passes_the_whole_environment_and_backends_env_still_wins()
    {
        var current = CurrentEnvironment();
        var backend = EnvBackend;

        var inherited = McpProxy.Backends.ChildEnvironment.For(backend with { InheritEnv = true }, current);
        Assert.Equal("secret", inherited["ADMIN_TOKEN"]);
        Assert.Equal("de_DE.UTF-8", inherited["LANG"]);
    }

    private static async Task<JsonObject> EnvOf(McpClient client, string tool, params string[] names)
    {
        var result = await client.CallToolAsync(tool, new Dictionary<string, object?> { ["names"] = names }, cancellationToken: Ct);
        return JsonNode.Parse(Text(result))!.AsObject();
    }
}
