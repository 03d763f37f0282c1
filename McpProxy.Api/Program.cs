using McpProxy;

var commandLine = ProxyCommandLine.Parse(args, Console.Out, Console.Error, out var exitCode);
var config = commandLine?.TryLoad(Console.Out, Console.Error, out exitCode);
if (commandLine is null || config is null || commandLine.Check)
{
    return exitCode;
}

var builder = WebApplication.CreateBuilder(commandLine.HostArgs);
builder.AddServiceDefaults();
builder.AddMcpProxy(config);

var app = builder.Build();
app.MapMcpProxy();
await app.RunAsync();
return 0;
