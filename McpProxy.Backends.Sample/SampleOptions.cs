using System.Globalization;

namespace McpProxy.Backends.Sample;

/// <summary>
/// Knobs of the sample backend. Every knob can be set by a command-line flag or an environment variable
/// (the flag wins), so a proxy configuration can pass them through a backend's <c>args</c> or <c>env</c>.
/// </summary>
public sealed class SampleOptions
{
    /// <summary>Serve MCP over stdin/stdout (<c>--stdio</c>).</summary>
    public bool Stdio { get; set; }

    /// <summary>With <see cref="Stdio"/>: also serve Streamable HTTP on these URLs (<c>--http-urls</c>, <c>;</c>-separated).</summary>
    public string? HttpUrls { get; set; }

    /// <summary>Delay added before every tool call (<c>--latency-ms</c> / <c>SAMPLE_LATENCY_MS</c>).</summary>
    public int LatencyMs { get; set; }

    /// <summary>Probability (0..1) that a tool call fails with a JSON-RPC error (<c>--error-rate</c> / <c>SAMPLE_ERROR_RATE</c>).</summary>
    public double ErrorRate { get; set; }

    /// <summary>Seed of the random source behind <see cref="ErrorRate"/> (<c>--seed</c> / <c>SAMPLE_SEED</c>).</summary>
    public int? Seed { get; set; }

    /// <summary>Exit the process (code 3) after serving this many tool calls (<c>--crash-after</c> / <c>SAMPLE_CRASH_AFTER</c>).</summary>
    public int? CrashAfter { get; set; }

    /// <summary>
    /// When <see cref="CrashAfter"/> triggers: <see langword="true"/> (default) calls <c>Environment.Exit(3)</c>;
    /// <see langword="false"/> only stops the application, which is what in-process tests want.
    /// </summary>
    public bool CrashExitsProcess { get; set; } = true;

    /// <summary>Server name reported in <c>initialize</c> and <c>stats</c> (<c>--name</c> / <c>SAMPLE_NAME</c>).</summary>
    public string? Name { get; set; }

    /// <summary>Number of extra trivial tools <c>t0..t{N-1}</c> (<c>--tools-count</c> / <c>SAMPLE_TOOLS_COUNT</c>).</summary>
    public int ToolsCount { get; set; }

    /// <summary>
    /// Also publish a tool, a prompt and a resource whose names start with this text (<c>--shadow-prefix</c> /
    /// <c>SAMPLE_SHADOW_PREFIX</c>): <c>{prefix}echo</c>, <c>{prefix}greet</c> and <c>{prefix}sample://info</c>. Used to
    /// test that a non-namespaced backend cannot publish names in another backend's namespace.
    /// </summary>
    public string? ShadowPrefix { get; set; }

    /// <summary>
    /// Serve the official conformance suite's fixtures instead of the sample's tools (<c>--conformance</c> /
    /// <c>SAMPLE_CONFORMANCE=true</c>): <c>test_simple_text</c>, <c>test://static-text</c>, the input_required tools, ...
    /// </summary>
    public bool Conformance { get; set; }

    /// <summary>The effective server name.</summary>
    public string ServerName => string.IsNullOrWhiteSpace(Name) ? SampleServer.DefaultName : Name;

    /// <summary>
    /// Parses the sample's own flags out of <paramref name="args"/>, falling back to environment variables
    /// (read through <paramref name="environment"/>, by default the process environment).
    /// </summary>
    /// <param name="args">Command-line arguments.</param>
    /// <param name="remainingArgs">The arguments that are not the sample's (for example <c>--urls</c>), for the host.</param>
    /// <param name="environment">Environment variable lookup; <see langword="null"/> for the process environment.</param>
    /// <exception cref="ArgumentException">A value is missing or invalid.</exception>
    public static SampleOptions Parse(IReadOnlyList<string> args, out string[] remainingArgs, Func<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        environment ??= Environment.GetEnvironmentVariable;

        var options = new SampleOptions
        {
            LatencyMs = ParseInt(environment("SAMPLE_LATENCY_MS"), "SAMPLE_LATENCY_MS") ?? 0,
            ErrorRate = ParseDouble(environment("SAMPLE_ERROR_RATE"), "SAMPLE_ERROR_RATE") ?? 0,
            Seed = ParseInt(environment("SAMPLE_SEED"), "SAMPLE_SEED"),
            CrashAfter = ParseInt(environment("SAMPLE_CRASH_AFTER"), "SAMPLE_CRASH_AFTER"),
            Name = NullIfEmpty(environment("SAMPLE_NAME")),
            ToolsCount = ParseInt(environment("SAMPLE_TOOLS_COUNT"), "SAMPLE_TOOLS_COUNT") ?? 0,
            ShadowPrefix = NullIfEmpty(environment("SAMPLE_SHADOW_PREFIX")),
            Conformance = bool.TryParse(environment("SAMPLE_CONFORMANCE"), out var conformance) && conformance,
        };

        var remaining = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            string flag = arg;
            string? inlineValue = null;
            if (arg.StartsWith("--", StringComparison.Ordinal) && arg.IndexOf('=', StringComparison.Ordinal) is var eq and > 0)
            {
                flag = arg[..eq];
                inlineValue = arg[(eq + 1)..];
            }

            switch (flag)
            {
                case "--stdio":
                    options.Stdio = inlineValue is null || (bool.TryParse(inlineValue, out var stdio)
                        ? stdio
                        : throw new ArgumentException($"Invalid value '{inlineValue}' for --stdio.", nameof(args)));
                    break;
                case "--http-urls":
                    options.HttpUrls = Value();
                    break;
                case "--latency-ms":
                    options.LatencyMs = ParseInt(Value(), flag) ?? 0;
                    break;
                case "--error-rate":
                    options.ErrorRate = ParseDouble(Value(), flag) ?? 0;
                    break;
                case "--seed":
                    options.Seed = ParseInt(Value(), flag);
                    break;
                case "--crash-after":
                    options.CrashAfter = ParseInt(Value(), flag);
                    break;
                case "--name":
                    options.Name = NullIfEmpty(Value());
                    break;
                case "--tools-count":
                    options.ToolsCount = ParseInt(Value(), flag) ?? 0;
                    break;
                case "--conformance":
                    options.Conformance = inlineValue is null || (bool.TryParse(inlineValue, out var on)
                        ? on
                        : throw new ArgumentException($"Invalid value '{inlineValue}' for --conformance.", nameof(args)));
                    break;
                case "--shadow-prefix":
                    options.ShadowPrefix = NullIfEmpty(Value());
                    break;
                default:
                    remaining.Add(arg);
                    break;
            }

            string Value()
            {
                if (inlineValue is not null)
                {
                    return inlineValue;
                }

                if (i + 1 >= args.Count)
                {
                    throw new ArgumentException($"Missing value for {flag}.", nameof(args));
                }

                return args[++i];
            }
        }

        options.Validate();
        remainingArgs = [.. remaining];
        return options;
    }

    /// <summary>Throws <see cref="ArgumentException"/> when a knob is out of range.</summary>
    public void Validate()
    {
        if (LatencyMs < 0)
        {
            throw new ArgumentException("Latency must be >= 0 ms.", nameof(LatencyMs));
        }

        if (ErrorRate is < 0 or > 1 || double.IsNaN(ErrorRate))
        {
            throw new ArgumentException("Error rate must be between 0 and 1.", nameof(ErrorRate));
        }

        if (CrashAfter is < 1)
        {
            throw new ArgumentException("Crash-after must be >= 1.", nameof(CrashAfter));
        }

        if (ToolsCount < 0)
        {
            throw new ArgumentException("Tools count must be >= 0.", nameof(ToolsCount));
        }
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    private static int? ParseInt(string? value, string source) =>
        NullIfEmpty(value) is not { } text ? null :
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var result) ? result :
        throw new ArgumentException($"Invalid integer '{text}' for {source}.", nameof(value));

    private static double? ParseDouble(string? value, string source) =>
        NullIfEmpty(value) is not { } text ? null :
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var result) ? result :
        throw new ArgumentException($"Invalid number '{text}' for {source}.", nameof(value));
}
