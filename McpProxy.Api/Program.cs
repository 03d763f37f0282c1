using McpProxy;

var commandLine = ProxyCommandLine.Parse(args, Console.Out, Console.Error, out var exitCode);
var config = commandLine?.TryLoad(Console.Out, Console.Error, out exitCode);
if (commandLine is null || config is null || commandLine.Check)
{
    return exitCode;
}

try
{
    var builder = WebApplication.CreateBuilder(commandLine.HostArgs);
    builder.AddServiceDefaults();
    builder.AddMcpProxy(config);
    var app = builder.Build();
    app.MapMcpProxy();
    await app.RunAsync();
    return Environment.ExitCode; // non-zero when a hosted service stopped the host by failing
}
catch (Exception ex) when (ex is not OperationCanceledException)
{
    // One line that says why (the log has the details), and an exit code a supervisor sees.
    await Console.Error.WriteLineAsync("mcp-proxy: fatal: " + ex.Message);
    return 1;
}
