using Microsoft.Extensions.Logging;

namespace McpProxy.Tests.Infrastructure;

/// <summary>
/// A logger provider that, once armed, holds the thread writing the first log entry matching a predicate until the
/// test releases it: a deterministic way to act inside a window of the proxy's code that ends right after that log
/// line (for example while a restarted backend is being brought back).
/// </summary>
internal sealed class LogGate(Func<string, string, bool> match) : ILoggerProvider
{
    private readonly ManualResetEventSlim _release = new(false);
    private volatile TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _armed;

    /// <summary>Completes when a matching entry is being written (its thread is then held).</summary>
    public Task Reached => _reached.Task;

    /// <summary>From now on, the first matching entry holds its thread (until <see cref="Release"/>).</summary>
    public void Arm()
    {
        _release.Reset();
        _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
        _armed = true;
    }

    /// <summary>Lets the held thread go (and any later one).</summary>
    public void Release() => _release.Set();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
        _release.Set();
    }

    private void OnLog(string category, string message)
    {
        if (_armed && match(category, message))
        {
            _armed = false;
            _reached.TrySetResult();
            // Bounded, so a failing test cannot hang the proxy forever.
            _release.Wait(TimeSpan.FromSeconds(30));
        }
    }

    private sealed class Logger(LogGate gate, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            gate.OnLog(category, formatter(state, exception));
    }
}
