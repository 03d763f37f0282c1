using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.AspNetCore;
using ModelContextProtocol.Protocol;

namespace McpProxy.Backends.Sample;

/// <summary>
/// Entry points of the sample MCP backend: <see cref="RunAsync"/> for the executable, <see cref="BuildHttpApp"/>
/// for in-process tests (add a URL such as <c>http://127.0.0.1:0</c>, start it, read the bound address).
/// </summary>
public static class SampleServer
{
    /// <summary>Default server (implementation) name.</summary>
    public const string DefaultName = "mcp-proxy-sample";

    /// <summary>Server (implementation) version.</summary>
    public const string Version = "1.0.0";

    /// <summary>Server instructions sent in <c>initialize</c>.</summary>
    public const string Instructions = "Sample backend for McpProxy tests.";

    /// <summary>Path of the Streamable HTTP endpoint (it is also served at <c>/</c>).</summary>
    public const string McpPath = "/mcp";

    /// <summary>Exit code of the process when <see cref="SampleOptions.CrashAfter"/> triggers.</summary>
    public const int CrashExitCode = FaultInjection.CrashExitCode;

    /// <summary>Command-line help.</summary>
    public const string Usage = """
        Usage: McpProxy.Backends.Sample [--stdio [--http-urls URL[;URL]]] [--urls URL] [options]
          (no --stdio)         Streamable HTTP at /mcp and /, on --urls / ASPNETCORE_URLS: initialize clients
                               (2024-11-05 .. 2025-11-25) get a session, 2026-07-28 clients are served statelessly
          --stdio              MCP over stdin/stdout; all logging goes to stderr
          --http-urls URLS     with --stdio: also serve Streamable HTTP on URLS in the same process
          --latency-ms N       SAMPLE_LATENCY_MS    delay before every tool call
          --error-rate P       SAMPLE_ERROR_RATE    probability (0..1) a tool call fails with a JSON-RPC error
          --seed N             SAMPLE_SEED          seed of the error-rate random source
          --crash-after N      SAMPLE_CRASH_AFTER   exit with code 3 after serving N tool calls
          --name NAME          SAMPLE_NAME          server name (default mcp-proxy-sample)
          --tools-count N      SAMPLE_TOOLS_COUNT   also register trivial tools t0..t{N-1}
          --conformance        SAMPLE_CONFORMANCE   serve the official conformance suite's fixtures instead
        """;

    /// <summary>
    /// Builds (does not start) the Streamable HTTP server: endpoint at <see cref="McpPath"/> and <c>/</c>,
    /// stateful sessions for <c>initialize</c> clients, stateless service for 2026-07-28 clients. Never serves stdio, whatever <paramref name="args"/> say.
    /// </summary>
    /// <param name="args">Host arguments (<c>--urls</c>, ...); the sample's own flags are honoured when <paramref name="options"/> is null and stripped otherwise.</param>
    /// <param name="options">Knobs; <see langword="null"/> to read them from <paramref name="args"/> and <c>SAMPLE_*</c> environment variables.</param>
    public static WebApplication BuildHttpApp(string[] args, SampleOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        var parsed = SampleOptions.Parse(args, out var hostArgs);
        options ??= parsed;
        options.Validate();
        return BuildWebApp(hostArgs, options, includeStdio: false);
    }

    /// <summary>Runs the server as the command line says; returns the process exit code.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Any(a => a is "--help" or "-h" or "-?"))
        {
            await Console.Error.WriteLineAsync(Usage);
            return 0;
        }

        SampleOptions options;
        string[] hostArgs;
        try
        {
            options = SampleOptions.Parse(args, out hostArgs);
        }
        catch (ArgumentException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message);
            await Console.Error.WriteLineAsync(Usage);
            return 2;
        }

        IHost host = options.Stdio && options.HttpUrls is null
            ? BuildStdioHost(hostArgs, options)
            : BuildWebApp(hostArgs, options, includeStdio: options.Stdio);

        // RunAsync disposes the host (and its service provider).
        var state = host.Services.GetRequiredService<SampleState>();
        await host.RunAsync();
        return state.CrashRequested ? CrashExitCode : 0;
    }

    private static WebApplication BuildWebApp(string[] hostArgs, SampleOptions options, bool includeStdio)
    {
        var builder = WebApplication.CreateBuilder(hostArgs);
        if (options.HttpUrls is { } urls)
        {
            builder.WebHost.UseUrls(urls);
        }

        builder.AddServiceDefaults();
        ConfigureServices(builder.Services, builder.Logging, options, stdio: includeStdio, http: true);

        var app = builder.Build();
        if (options.Conformance)
        {
            app.Use(ConformanceBackend.RejectRebindingAsync);
        }

        app.MapDefaultEndpoints();
        app.MapMcp(McpPath);
        app.MapMcp("/");
        LogStarting(app.Services, options, includeStdio, http: options.HttpUrls ?? "host urls");
        return app;
    }

    private static IHost BuildStdioHost(string[] hostArgs, SampleOptions options)
    {
        var builder = Host.CreateApplicationBuilder(hostArgs);
        builder.AddServiceDefaults();
        ConfigureServices(builder.Services, builder.Logging, options, stdio: true, http: false);
        var host = builder.Build();
        LogStarting(host.Services, options, stdio: true, http: "none");
        return host;
    }

    private static void ConfigureServices(IServiceCollection services, ILoggingBuilder logging, SampleOptions options, bool stdio, bool http)
    {
        if (stdio)
        {
            // stdout carries the protocol: every log line goes to stderr.
            logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
            services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        }

        logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);

        var state = new SampleState(options);
        services.AddSingleton(state);
        services.AddSingleton(options);

        IMcpServerBuilder mcp;
        if (options.Conformance)
        {
            mcp = services.AddMcpServer(ConformanceBackend.Configure);
            ConformanceBackend.ConfigureHandlers(mcp);
        }
        else
        {
            SampleTools.Register(state);
            mcp = ConfigureSample(services, state, options);
        }

        if (http)
        {
            services.AddHttpContextAccessor();

            // Both eras on one endpoint: initialize clients (2024-11-05 .. 2025-11-25) keep a stateful session with
            // Mcp-Session-Id exactly as before; 2026-07-28 clients are served per request, with no session.
            mcp.WithHttpTransport(t => t.SessionMode = HttpServerSessionMode.StatefulForInitializeClients);
        }

        if (stdio)
        {
            mcp.WithStdioServerTransport();
        }
    }

    private static IMcpServerBuilder ConfigureSample(IServiceCollection services, SampleState state, SampleOptions options) =>
        services
            .AddMcpServer(o =>
            {
                o.ServerInfo = new Implementation { Name = options.ServerName, Version = Version };
                o.ServerInstructions = Instructions;

                // One runtime-mutable collection shared by every session: each stateful session (stdio, HTTP)
                // subscribes to its Changed event and sends notifications/tools/list_changed.
                o.ToolCollection = state.Tools;
                o.Capabilities = new ServerCapabilities
                {
                    Resources = new ResourcesCapability { Subscribe = true, ListChanged = true },
                    Tools = new ToolsCapability { ListChanged = true },
                };
            })
            .WithResources(SampleContent.Resources(options))
            .WithReadResourceHandler(SampleContent.ReadFileAsync)
            .WithPrompts(SampleContent.Prompts(options))
            .WithCompleteHandler(SampleContent.CompleteAsync)
            .WithSubscribeToResourcesHandler(SampleContent.SubscribeAsync)
            .WithUnsubscribeFromResourcesHandler(SampleContent.UnsubscribeAsync)
            .WithSubscriptionsListenHandler(SampleListen.HandleAsync)
            .WithRequestFilters(filters => filters.AddCallToolFilter(FaultInjection.Create(state)))
            .WithMessageFilters(filters => filters.AddIncomingFilter(next => async (context, ct) =>
            {
                if (context.JsonRpcMessage is JsonRpcRequest request)
                {
                    state.ReceivedMethods.Enqueue(request.Method);
                }

                await next(context, ct);
            }));

    private static void LogStarting(IServiceProvider services, SampleOptions options, bool stdio, string http) =>
        services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(SampleServer).FullName!).Starting(
            options.ServerName, stdio, http, options.LatencyMs, options.ErrorRate, options.CrashAfter, options.ToolsCount);
}
