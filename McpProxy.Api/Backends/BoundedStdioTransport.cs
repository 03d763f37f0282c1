using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpProxy.Backends;

/// <summary>What <see cref="BoundedStdioTransport"/> starts and how.</summary>
internal sealed record BoundedStdioOptions
{
    public required string Name { get; init; }
    public required string Command { get; init; }
    public IReadOnlyList<string> Arguments { get; init; } = [];
    /// <summary>The child's complete environment (it inherits nothing else).</summary>
    public required IReadOnlyDictionary<string, string?> Environment { get; init; }
    public required string WorkingDirectory { get; init; }
    /// <summary>Each line the child writes to stderr.</summary>
    public required Action<string> StandardErrorLine { get; init; }
    /// <summary>On stop the child gets its stdin closed and this long to exit before its process tree is killed.</summary>
    public required TimeSpan ShutdownGrace { get; init; }
    /// <summary><c>[security] max_result_size</c>: the longest line (message) read from the child.</summary>
    public required long MaxMessageSize { get; init; }
}

/// <summary>
/// The stdio transport for backends: it starts the child as the SDK's <see cref="StdioClientTransport"/> does
/// (redirected UTF-8 stdio, stderr lines to the log, cwd, environment, <c>cmd.exe /c</c> on Windows, process-tree kill
/// after a grace period), but reads the child's stdout itself, because the SDK's reader buffers a line of any length.
/// A line longer than <see cref="BoundedStdioOptions.MaxMessageSize"/> is discarded while it is read — never held
/// whole — and, when it was a response, the request it answered gets <see cref="ResultSizeLimit"/>'s error; the child
/// keeps serving.
/// </summary>
internal sealed partial class BoundedStdioTransport(BoundedStdioOptions options, ILoggerFactory loggerFactory) : IClientTransport
{
    public string Name => options.Name;

    public Task<ITransport> ConnectAsync(CancellationToken cancellationToken = default)
    {
        var (command, arguments) = OperatingSystem.IsWindows() && !string.Equals(Path.GetFileName(options.Command), "cmd.exe", StringComparison.OrdinalIgnoreCase)
            ? ("cmd.exe", (IReadOnlyList<string>)["/c", options.Command, .. options.Arguments])
            : ChildProcessGroup.Wrap(options.Command, options.Arguments); // own process group: see ChildProcessGroup

        var utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);
        var startInfo = new ProcessStartInfo
        {
            FileName = command,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            CreateNoWindow = true,
            WorkingDirectory = options.WorkingDirectory,
            StandardInputEncoding = utf8,
            StandardOutputEncoding = utf8,
            StandardErrorEncoding = utf8,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        startInfo.Environment.Clear();
        foreach (var (key, value) in options.Environment)
        {
            startInfo.Environment[key] = value;
        }

        var process = new Process { StartInfo = startInfo };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                options.StandardErrorLine(line);
            }
        };

        try
        {
            if (!process.Start())
            {
                throw new IOException("Failed to start MCP server process.");
            }
        }
        catch (Exception ex) when (ex is not IOException)
        {
            process.Dispose();
            throw new IOException($"Failed to start '{options.Command}': {ex.Message}", ex);
        }

        process.BeginErrorReadLine();
        return Task.FromResult<ITransport>(new Session(process, options, loggerFactory.CreateLogger("McpProxy.Backends")));
    }

    private sealed partial class Session : TransportBase
    {
        private static readonly byte[] Newline = "\n"u8.ToArray();

        private readonly Process _process;
        private readonly BoundedStdioOptions _options;
        private readonly ILogger _logger;
        private readonly Stream _stdin;
        private readonly SemaphoreSlim _sendLock = new(1, 1);
        private readonly CancellationTokenSource _stopping = new();
        private readonly int _processId;
        private readonly Task _reading;
        private int _stopped;

        public Session(Process process, BoundedStdioOptions options, ILogger logger)
            : base(options.Name, null)
        {
            _process = process;
            _options = options;
            _logger = logger;
            _stdin = process.StandardInput.BaseStream;
            _processId = process.Id;
            SetConnected();
            _reading = Task.Run(() => ReadAsync(_stopping.Token));
        }

        public override async Task SendMessageAsync(JsonRpcMessage message, CancellationToken cancellationToken = default)
        {
            var json = JsonSerializer.SerializeToUtf8Bytes(message, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(JsonRpcMessage)));
            await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await _stdin.WriteAsync(json, cancellationToken).ConfigureAwait(false);
                await _stdin.WriteAsync(Newline, cancellationToken).ConfigureAwait(false);
                await _stdin.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException)
            {
                throw new IOException(HasExited(_process) ? "MCP server process exited unexpectedly" : "Failed to send message.", ex);
            }
            finally
            {
                _sendLock.Release();
            }
        }

        public override async ValueTask DisposeAsync()
        {
            await StopAsync(null).ConfigureAwait(false);
            try
            {
                await _reading.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
            {
            }
        }

        /// <summary>
        /// Reads the child's stdout line by line. A line is held only up to the limit: past it the rest is scanned for
        /// the message's id and dropped as it arrives.
        /// </summary>
        private async Task ReadAsync(CancellationToken cancellationToken)
        {
            var limit = _options.MaxMessageSize;
            var reader = PipeReader.Create(_process.StandardOutput.BaseStream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, leaveOpen: true));
            Exception? error = null;
            JsonRpcIdScanner? discarding = null;
            long searched = 0; // bytes of the current line already searched for a newline
            try
            {
                while (true)
                {
                    var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                    var buffer = result.Buffer;
                    while (true)
                    {
                        var newline = buffer.Slice(searched).PositionOf((byte)'\n');
                        if (newline is null)
                        {
                            if (discarding is not null || buffer.Length > limit)
                            {
                                discarding ??= new JsonRpcIdScanner();
                                Feed(discarding, buffer);
                                buffer = buffer.Slice(buffer.End);
                                searched = 0;
                            }
                            else
                            {
                                searched = buffer.Length;
                            }

                            break;
                        }

                        var line = buffer.Slice(0, newline.Value);
                        if (discarding is null && line.Length > limit)
                        {
                            discarding = new JsonRpcIdScanner();
                            Feed(discarding, line);
                        }
                        else if (discarding is not null)
                        {
                            Feed(discarding, line);
                        }

                        if (discarding is not null)
                        {
                            await OversizedAsync(discarding, cancellationToken).ConfigureAwait(false);
                            discarding = null;
                        }
                        else
                        {
                            await ProcessLineAsync(line, cancellationToken).ConfigureAwait(false);
                        }

                        buffer = buffer.Slice(buffer.GetPosition(1, newline.Value));
                        searched = 0;
                    }

                    reader.AdvanceTo(buffer.Start, buffer.End);
                    if (result.IsCompleted)
                    {
                        break;
                    }
                }

                // stdout closed: the child is gone (or going).
                error = new IOException("MCP server process exited unexpectedly");
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }
            catch (Exception ex)
            {
                error = ex;
            }
            finally
            {
                await reader.CompleteAsync().ConfigureAwait(false);
            }

            await StopAsync(error).ConfigureAwait(false);
        }

        private static void Feed(JsonRpcIdScanner scanner, ReadOnlySequence<byte> bytes)
        {
            foreach (var segment in bytes)
            {
                scanner.Feed(segment.Span);
            }
        }

        private async Task ProcessLineAsync(ReadOnlySequence<byte> line, CancellationToken cancellationToken)
        {
            var json = new Utf8JsonReader(line);
            JsonRpcMessage? message;
            try
            {
                // Blank lines (and a trailing \r) are skipped, as the SDK's reader does.
                if (!HasContent(line))
                {
                    return;
                }

                message = (JsonRpcMessage?)JsonSerializer.Deserialize(ref json, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(JsonRpcMessage)));
            }
            catch (JsonException ex)
            {
                LogUnreadable(_options.Name, ex.Message);
                return;
            }

            if (message is not null)
            {
                await WriteMessageAsync(message, cancellationToken).ConfigureAwait(false);
            }
        }

        private static bool HasContent(ReadOnlySequence<byte> line)
        {
            foreach (var segment in line)
            {
                if (segment.Span.IndexOfAnyExcept(" \t\r"u8) >= 0)
                {
                    return true;
                }
            }

            return false;
        }

        private async Task OversizedAsync(JsonRpcIdScanner message, CancellationToken cancellationToken)
        {
            if (message.IsResponse && message.Id is { } id)
            {
                LogOversizedResponse(_options.Name, _options.MaxMessageSize, id.ToString());
                await WriteMessageAsync(ResultSizeLimit.ErrorFor(id, _options.Name, _options.MaxMessageSize), cancellationToken).ConfigureAwait(false);
            }
            else
            {
                LogOversizedDropped(_options.Name, _options.MaxMessageSize);
            }
        }

        /// <summary>Once: stop reading, close stdin, give the child its grace period, then kill its process tree.</summary>
        private async Task StopAsync(Exception? error)
        {
            if (Interlocked.Exchange(ref _stopped, 1) != 0)
            {
                return;
            }

            await _stopping.CancelAsync().ConfigureAwait(false);
            try
            {
                _process.StandardInput.Close();
            }
            catch (Exception ex) when (ex is IOException or InvalidOperationException or ObjectDisposedException)
            {
            }

            using (var grace = new CancellationTokenSource(_options.ShutdownGrace))
            {
                try
                {
                    await _process.WaitForExitAsync(grace.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
            }

            if (!HasExited(_process))
            {
                try
                {
                    _process.Kill(entireProcessTree: true);
                    using var killed = new CancellationTokenSource(_options.ShutdownGrace);
                    await _process.WaitForExitAsync(killed.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException or System.ComponentModel.Win32Exception)
                {
                }
            }

            var details = new StdioClientCompletionDetails
            {
                ProcessId = _processId,
                ExitCode = HasExited(_process) ? _process.ExitCode : null,
                Exception = error,
            };
            SetDisconnected(new ClientTransportClosedException(details));
            _process.Dispose(); // (_stopping is not disposed: the read loop may still be looking at its token)
        }

        private static bool HasExited(Process process)
        {
            try
            {
                return process.HasExited;
            }
            catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                return true;
            }
        }

        [LoggerMessage(Level = LogLevel.Warning, Message = "Backend '{Backend}' sent a response larger than {Limit} bytes ([security] max_result_size) for request {Id}; the caller gets an error")]
        private partial void LogOversizedResponse(string backend, long limit, string id);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Backend '{Backend}' sent a message larger than {Limit} bytes ([security] max_result_size) that answers no request; dropped")]
        private partial void LogOversizedDropped(string backend, long limit);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Backend '{Backend}' wrote a line to stdout that is not a JSON-RPC message: {Error}")]
        private partial void LogUnreadable(string backend, string error);
    }
}
