using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace McpProxy.Backends.Sample;

/// <summary>
/// The call-tool filter wrapped around every tool: counts calls and cancellations, and applies the
/// latency / error-rate / crash-after knobs of <see cref="SampleOptions"/>.
/// </summary>
internal static class FaultInjection
{
    public const int CrashExitCode = 3;

    public static McpRequestFilter<CallToolRequestParams, CallToolResult> Create(SampleState state) => next => async (request, cancellationToken) =>
    {
        var options = state.Options;
        var tool = request.Params?.Name ?? "?";
        var logger = request.Services?.GetService<ILoggerFactory>()?.CreateLogger(typeof(FaultInjection).FullName!) ?? NullLogger.Instance;
        var ordinal = state.BeginCall();

        if (options.CrashAfter is { } limit && ordinal > limit)
        {
            // Past the limit (the crash is already on its way): never answer.
            Crash(state, request.Services, logger);
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        try
        {
            if (options.LatencyMs > 0)
            {
                await Task.Delay(options.LatencyMs, cancellationToken);
            }

            if (state.ShouldInjectError())
            {
                logger.InjectedFailure(tool);

                // McpProtocolException (unlike other exceptions, which the SDK turns into isError results)
                // reaches the client as a JSON-RPC error.
                throw new McpProtocolException($"Injected failure in '{tool}' (error rate {options.ErrorRate}).", McpErrorCode.InternalError);
            }

            return await next(request, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            state.RecordCancellation();
            logger.ToolCallCancelled(tool);
            throw;
        }
        finally
        {
            if (options.CrashAfter is { } crashAfter && ordinal == crashAfter)
            {
                Crash(state, request.Services, logger);
            }
        }
    };

    private static void Crash(SampleState state, IServiceProvider? services, ILogger logger)
    {
        if (!state.TryRequestCrash())
        {
            return;
        }

        logger.Crashing(state.ToolCalls, CrashExitCode);
        if (state.Options.CrashExitsProcess)
        {
            // Off the request thread and a moment later, so the last response is flushed first.
            _ = Task.Run(async () =>
            {
                await Task.Delay(100);
                Environment.Exit(CrashExitCode);
            });
        }
        else
        {
            services?.GetService<IHostApplicationLifetime>()?.StopApplication();
        }
    }
}
