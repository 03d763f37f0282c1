using System.Collections;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace McpProxy.Observability;

/// <summary>
/// Log lines cannot be forged: every logger provider is wrapped so that control characters in a log entry — its
/// message, every structured field, every scope value, an exception's message — reach the sink escaped (<c>\n</c>,
/// <c>\r</c>, <c>\t</c>, <c>\u2028</c>…). A tool name, argument, caller or backend stderr line holding
/// <c>"\ninfo: McpProxy.Audit[1] …"</c> then stays inside its own entry in the plain console format, in
/// <c>json_logs</c> and in any other sink. Done as a provider wrapper rather than a console formatter so no sink can be
/// missed; Microsoft.Extensions.Logging has no built-in hook for this. (A filter rule aimed at one provider type, such
/// as <c>AddFilter&lt;ConsoleLoggerProvider&gt;</c>, would no longer match the wrapped provider; the proxy uses none.)
/// </summary>
internal static class LogEscaping
{
    /// <summary>Wraps every <see cref="ILoggerProvider"/> registered so far (call after all providers are added).</summary>
    public static void EscapeControlCharactersInLogs(this IServiceCollection services)
    {
        var providers = services.Where(d => d.ServiceType == typeof(ILoggerProvider) && !d.IsKeyedService).ToList();
        foreach (var descriptor in providers)
        {
            services.Remove(descriptor);
            services.Add(ServiceDescriptor.Singleton<ILoggerProvider>(sp =>
            {
                var inner = Create(sp, descriptor);
                // The factory hands scopes to providers that keep their own scope stack: escape them on the way out.
                return inner is ISupportExternalScope external ? new ExternalScopeEscapingLoggerProvider(inner, external) : new EscapingLoggerProvider(inner);
            }));
        }
    }

    private static ILoggerProvider Create(IServiceProvider sp, ServiceDescriptor descriptor) => (ILoggerProvider)(
        descriptor.ImplementationInstance
        ?? descriptor.ImplementationFactory?.Invoke(sp)
        ?? ActivatorUtilities.CreateInstance(sp, descriptor.ImplementationType!));

    /// <summary>
    /// <paramref name="text"/> with C0 and C1 control characters, DEL and the Unicode line and paragraph separators
    /// escaped (<c>\n</c>, <c>\r</c>, <c>\t</c>, else <c>\uXXXX</c>); the same instance when there is none.
    /// </summary>
    public static string Escape(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var first = IndexOfUnsafe(text);
        if (first < 0)
        {
            return text;
        }

        var sb = new StringBuilder(text.Length + 16).Append(text, 0, first);
        for (var i = first; i < text.Length; i++)
        {
            var c = text[i];
            if (!IsUnsafe(c))
            {
                sb.Append(c);
                continue;
            }

            _ = c switch
            {
                '\n' => sb.Append("\\n"),
                '\r' => sb.Append("\\r"),
                '\t' => sb.Append("\\t"),
                _ => sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture)),
            };
        }

        return sb.ToString();
    }

    public static bool IsUnsafe(char c) => c < ' ' || c is >= '\u007f' and <= '\u009f' || c is '\u2028' or '\u2029';

    private static int IndexOfUnsafe(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (IsUnsafe(text[i]))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>A structured value as logged: strings (and objects whose text holds a control character) escaped.</summary>
    internal static object? EscapeValue(object? value) => value switch
    {
        null => null,
        string s => Escape(s),
        _ when value.GetType().IsPrimitive || value is decimal or DateTime or DateTimeOffset or TimeSpan or Guid or Enum => value,
        IEnumerable<KeyValuePair<string, object?>> pairs => EscapedState.From(pairs),
        _ => value.ToString() is { } text && IndexOfUnsafe(text) >= 0 ? Escape(text) : value,
    };

    private class EscapingLoggerProvider(ILoggerProvider inner) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new EscapingLogger(inner.CreateLogger(categoryName));

        public void Dispose() => inner.Dispose();
    }

    private sealed class ExternalScopeEscapingLoggerProvider(ILoggerProvider inner, ISupportExternalScope external) : EscapingLoggerProvider(inner), ISupportExternalScope
    {
        public void SetScopeProvider(IExternalScopeProvider scopeProvider) => external.SetScopeProvider(new EscapingScopeProvider(scopeProvider));
    }

    private sealed class EscapingLogger(ILogger inner) : ILogger
    {
        // A scope is begun for every request (ASP.NET Core's hosting scope) and mostly never read: its fields are escaped
        // when a sink reads them, not when it is begun.
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state is IEnumerable<KeyValuePair<string, object?>> pairs ? new LazyEscapedScope(pairs) : EscapeValue(state) ?? state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!inner.IsEnabled(logLevel))
            {
                return;
            }

            var message = Escape(formatter(state, exception));
            var safeException = exception is null ? null : EscapedException.Of(exception);
            if (state is IEnumerable<KeyValuePair<string, object?>> pairs)
            {
                inner.Log(logLevel, eventId, EscapedState.From(pairs, message), safeException, (_, _) => message);
            }
            else
            {
                inner.Log(logLevel, eventId, state, safeException, (_, _) => message);
            }
        }
    }

    /// <summary>Structured fields with their values escaped; <c>{OriginalFormat}</c> (the code's template) is kept.</summary>
    private sealed class EscapedState(List<KeyValuePair<string, object?>> pairs, string text) : IReadOnlyList<KeyValuePair<string, object?>>
    {
        /// <param name="source">The fields.</param>
        /// <param name="text">What the state reads as (formatters print it): the escaped message.</param>
        public static EscapedState From(IEnumerable<KeyValuePair<string, object?>> source, string? text = null) =>
            new([.. source.Select(p => p.Key == "{OriginalFormat}" ? p : new KeyValuePair<string, object?>(Escape(p.Key), EscapeValue(p.Value)))],
                text ?? Escape(source.ToString() ?? ""));

        public KeyValuePair<string, object?> this[int index] => pairs[index];

        public int Count => pairs.Count;

        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => pairs.GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

        public override string ToString() => text;
    }

    /// <summary>Scope fields escaped as they are read (<see cref="EscapedState"/> escapes them all at once).</summary>
    private sealed class LazyEscapedScope(IEnumerable<KeyValuePair<string, object?>> pairs) : IEnumerable<KeyValuePair<string, object?>>
    {
        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
        {
            foreach (var p in pairs)
            {
                yield return p.Key == "{OriginalFormat}" ? p : new KeyValuePair<string, object?>(Escape(p.Key), EscapeValue(p.Value));
            }
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

        public override string ToString() => Escape(pairs.ToString() ?? "");
    }

    private sealed class EscapingScopeProvider(IExternalScopeProvider inner) : IExternalScopeProvider
    {
        public void ForEachScope<TState>(Action<object?, TState> callback, TState state) =>
            inner.ForEachScope(static (scope, s) => s.Callback(EscapeValue(scope), s.State), (Callback: callback, State: state));

        public IDisposable Push(object? state) => inner.Push(state);
    }

    /// <summary>
    /// An exception whose message (or an inner one's) holds a control character, shown with it escaped: same type
    /// name, message and stack trace, one entry. Exceptions without such characters are logged as they are.
    /// </summary>
    private sealed class EscapedException : Exception
    {
        private readonly Exception _original;

        private EscapedException(Exception original)
            : base(Escape(original.Message), original.InnerException is { } inner ? Of(inner) : null)
        {
            _original = original;
        }

        public static Exception Of(Exception exception) =>
            HasUnsafeMessage(exception) ? new EscapedException(exception) : exception;

        private static bool HasUnsafeMessage(Exception? exception)
        {
            for (var e = exception; e is not null; e = e.InnerException)
            {
                if (IndexOfUnsafe(e.Message) >= 0)
                {
                    return true;
                }
            }

            return false;
        }

        public override string? StackTrace => _original.StackTrace;

        public override string ToString()
        {
            var sb = new StringBuilder().Append(_original.GetType().FullName).Append(": ").Append(Message);
            if (InnerException is { } inner)
            {
                sb.Append(" ---> ").Append(inner.ToString()).AppendLine().Append("   --- End of inner exception stack trace ---");
            }

            if (StackTrace is { } trace)
            {
                sb.AppendLine().Append(trace);
            }

            return sb.ToString();
        }
    }
}
