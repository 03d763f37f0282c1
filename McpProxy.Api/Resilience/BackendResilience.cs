using System.Runtime.ExceptionServices;
using System.Threading.RateLimiting;
using McpProxy.Configuration;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using Polly;
using Polly.Hedging;
using Polly.RateLimiting;
using Polly.Retry;
using Polly.Timeout;

namespace McpProxy.Resilience;

/// <summary>
/// Shared by every backend's pipeline: the proxy-wide ejection view, the metrics, the clock and, when the proxy has
/// Redis, the fleet-wide rate limits (<c>[backends.rate_limit] scope = "global"</c>).
/// </summary>
internal sealed record ResilienceServices(OutlierEjections Ejections, ResilienceMetrics Metrics, TimeProvider Time, IFleetRateLimits? Fleet = null);

/// <summary>
/// Rate limiters counted across every replica (Replicas/, over Redis): given the replica's own limiter, which counts
/// instead while the fleet-wide counter cannot be reached.
/// </summary>
internal interface IFleetRateLimits
{
    RateLimiter Create(string backend, RateLimitConfig config, RateLimiter local);
}

/// <summary>
/// Resilience: one Polly v8 pipeline per backend, composed from its config, outermost first:
/// rate limit (<c>[backends.rate_limit]</c>, fixed window, no queue) → retry (<c>[backends.retry]</c>, exponential
/// backoff with jitter capped at <c>max_backoff_ms</c>, within a <see cref="RetryBudget"/>) → hedging
/// (<c>[backends.hedging]</c>) → concurrency limit (<c>[backends.concurrency]</c>, bounded queue) → outlier ejection and
/// circuit breaker (<see cref="OutlierDetector"/>, <see cref="CircuitBreaker"/>) → per-attempt timeout
/// (<c>[backends.timeout]</c>) → the call. Retry and hedging act only on calls that are safe to repeat; every policy
/// judges failures by <see cref="BackendFailure"/>.
/// </summary>
/// <remarks>
/// A backend with no policy but its timeout (the default) does not go through Polly at all: its attempt runs under a
/// timeout on the same clock, with the same error translation (<see cref="ExecuteAsync{T, TState}"/>). The Polly
/// pipeline is still built, so <c>--check</c> and hot reload judge the timeout exactly as before.
/// </remarks>
internal sealed class BackendResilience : IDisposable
{
    private static readonly ResiliencePropertyKey<bool> RepeatableKey = new("mcp-proxy.repeatable");
    private static readonly ResiliencePropertyKey<string> RejectedByKey = new("mcp-proxy.rejected-by");

    private readonly string _backend;
    private readonly BackendConfig _config;
    private readonly ResiliencePipeline<object> _pipeline;
    private readonly TimeProvider _time;
    private readonly TimeoutSources _timeouts;

    // Only the per-attempt timeout is configured: calls skip the Polly pipeline.
    private readonly bool _timeoutOnly;

    // Ours to dispose: a fixed-window limiter replenishes on a timer, which outlives the pipeline unless disposed (a
    // backend replaced by a hot reload, every --check dry run). Polly's own concurrency limiter holds no timer.
    private readonly RateLimiter? _rateLimiter;
    private readonly FixedWindowRateLimiter? _localRateLimiter;

    public BackendResilience(BackendConfig config, TimeSpan attemptTimeout, ResilienceServices services)
    {
        _backend = config.Name;
        _config = config;
        AttemptTimeout = attemptTimeout;
        _time = services.Time;
        _timeouts = new TimeoutSources(services.Time);
        var metrics = services.Metrics;
        var builder = new ResiliencePipelineBuilder<object> { Name = config.Name, TimeProvider = services.Time };

        if (config.RateLimit is { } rate)
        {
            var local = _localRateLimiter = new FixedWindowRateLimiter(new FixedWindowRateLimiterOptions
            {
                PermitLimit = rate.Requests,
                Window = TimeSpan.FromSeconds(rate.PeriodSeconds),
                QueueLimit = 0,
                AutoReplenishment = true,
            });

            // scope = "global": one counter for the fleet (Redis); without Redis the replica's own limiter (ReplicaServices logs it).
            var limiter = _rateLimiter = rate.Scope == RateLimitScope.Global && services.Fleet is { } fleet
                ? fleet.Create(config.Name, rate, local)
                : local;
            builder.AddRateLimiter(new RateLimiterStrategyOptions
            {
                Name = "rate_limit",
                RateLimiter = args => limiter.AcquireAsync(1, args.Context.CancellationToken),
                OnRejected = args => Rejected(args.Context, "rate_limit"),
            });
        }

        if (config.Retry is { MaxRetries: > 0 } retry)
        {
            Budget = new RetryBudget(retry.BudgetPercent, retry.MinRetriesPerSec, services.Time);
            var budget = Budget;
            builder.AddRetry(new RetryStrategyOptions<object>
            {
                Name = "retry",
                MaxRetryAttempts = retry.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(retry.InitialBackoffMs),
                MaxDelay = TimeSpan.FromMilliseconds(retry.MaxBackoffMs),
                // Cheap checks first: the budget is only spent on a retry that will happen.
                ShouldHandle = args => ValueTask.FromResult(
                    IsRepeatable(args.Context) && BackendFailure.IsFailure(args.Outcome.Exception) && budget.TryAcquireRetry()),
                OnRetry = _ =>
                {
                    metrics.Retry(_backend);
                    return default;
                },
            });
        }

        if (config.Hedging is { MaxHedges: > 0 } hedging)
        {
            builder.AddHedging(new HedgingStrategyOptions<object>
            {
                Name = "hedging",
                MaxHedgedAttempts = Math.Min(hedging.MaxHedges, 10),
                Delay = TimeSpan.FromMilliseconds(hedging.DelayMs),
                ShouldHandle = args => ValueTask.FromResult(IsRepeatable(args.Context) && BackendFailure.IsFailure(args.Outcome.Exception)),
                // No hedge at all for a call that is not safe to repeat.
                ActionGenerator = args => IsRepeatable(args.PrimaryContext) ? () => args.Callback(args.ActionContext) : null,
                OnHedging = _ =>
                {
                    metrics.Hedge(_backend);
                    return default;
                },
            });
        }

        if (config.Concurrency is { } concurrency)
        {
            builder.AddRateLimiter(new RateLimiterStrategyOptions
            {
                Name = "concurrency",
                DefaultRateLimiterOptions = new ConcurrencyLimiterOptions
                {
                    PermitLimit = concurrency.MaxConcurrent,
                    QueueLimit = concurrency.MaxQueued,
                    QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                },
                OnRejected = args => Rejected(args.Context, "concurrency"),
            });
        }

        if (config.OutlierDetection is { } outlier)
        {
            Outlier = new OutlierDetector(config.Name, outlier, services.Ejections, services.Time, (name, _) => metrics.Ejected(name));
        }

        if (config.CircuitBreaker is { } breaker)
        {
            Breaker = new CircuitBreaker(config.Name, breaker, services.Time, metrics.CircuitTransition);
        }

        if (Outlier is not null || Breaker is not null)
        {
            var (o, b) = (Outlier, Breaker);
            builder.AddStrategy(_ => new GateStrategy(o, b, metrics, config.Name), new GateStrategyOptions());
        }

        // Built even when unused (no other policy), so Polly validates the timeout as it always has.
        _timeoutOnly = config.RateLimit is null && Budget is null && config.Hedging is not { MaxHedges: > 0 } && config.Concurrency is null
            && Outlier is null && Breaker is null;
        builder.AddTimeout(new TimeoutStrategyOptions { Name = "timeout", Timeout = attemptTimeout });
        _pipeline = builder.Build();

        ValueTask Rejected(ResilienceContext context, string reason)
        {
            context.Properties.Set(RejectedByKey, reason);
            metrics.Rejected(_backend, reason);
            return default;
        }
    }

    public TimeSpan AttemptTimeout { get; }
    public CircuitBreaker? Breaker { get; }
    public OutlierDetector? Outlier { get; }
    public RetryBudget? Budget { get; }

    /// <summary>Whether <see cref="Dispose"/> ran (the backend was replaced, removed or stopped).</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) == 1;

    private int _disposed;

    /// <summary>Releases the rate limiter's replenishment timer; calls after this fail with <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            if (!ReferenceEquals(_rateLimiter, _localRateLimiter))
            {
                _rateLimiter?.Dispose();
            }

            _localRateLimiter?.Dispose();
        }
    }

    /// <summary>
    /// Runs one proxied call through the pipeline. Failures come back as JSON-RPC errors naming the backend: its own
    /// protocol errors keep their code; timeouts, transport failures and the proxy's refusals are -32603.
    /// </summary>
    /// <param name="call">One attempt (it may run several times, concurrently when hedged).</param>
    /// <param name="repeatable">Whether retry and hedging may repeat it.</param>
    public ValueTask<T> ExecuteAsync<T>(Func<CancellationToken, ValueTask<T>> call, bool repeatable, string kind, string item, CancellationToken cancellationToken)
        where T : class =>
        ExecuteAsync(static (attempt, ct) => attempt(ct), call, repeatable, kind, item, cancellationToken);

    /// <summary>
    /// <see cref="ExecuteAsync{T}(Func{CancellationToken, ValueTask{T}}, bool, string, string, CancellationToken)"/>
    /// with the attempt's state passed through, so a static <paramref name="call"/> needs no closure per call.
    /// </summary>
    /// <param name="cut">
    /// A second reason to stop (the backend's cut: a reload past its drain, the shutdown timeout), which ends the call
    /// as the caller's cancellation does; taken apart rather than linked, so the timeout-only path needs no linked source.
    /// </param>
    public ValueTask<T> ExecuteAsync<T, TState>(Func<TState, CancellationToken, ValueTask<T>> call, TState state, bool repeatable, string kind, string item, CancellationToken cancellationToken, CancellationToken cut = default)
        where T : class =>
        _timeoutOnly ? ExecuteWithTimeoutAsync(call, state, kind, item, cancellationToken, cut)
        : cut.CanBeCanceled ? ExecuteLinkedAsync(call, state, repeatable, kind, item, cancellationToken, cut)
        : ExecutePipelineAsync(call, state, repeatable, kind, item, cancellationToken);

    private async ValueTask<T> ExecuteLinkedAsync<T, TState>(Func<TState, CancellationToken, ValueTask<T>> call, TState state, bool repeatable, string kind, string item, CancellationToken cancellationToken, CancellationToken cut)
        where T : class
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, cut);
        return await ExecutePipelineAsync(call, state, repeatable, kind, item, linked.Token).ConfigureAwait(false);
    }

    private async ValueTask<T> ExecutePipelineAsync<T, TState>(Func<TState, CancellationToken, ValueTask<T>> call, TState state, bool repeatable, string kind, string item, CancellationToken cancellationToken)
        where T : class
    {
        Budget?.RecordRequest();
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        context.Properties.Set(RepeatableKey, repeatable);
        try
        {
            var outcome = await _pipeline.ExecuteOutcomeAsync(
                static async (ctx, attempt) =>
                {
                    try
                    {
                        return Outcome.FromResult<object>(await attempt.call(attempt.state, ctx.CancellationToken).ConfigureAwait(false));
                    }
                    catch (Exception ex)
                    {
                        return Outcome.FromException<object>(ex);
                    }
                },
                context,
                (call, state)).ConfigureAwait(false);

            if (outcome.Exception is { } exception)
            {
                context.Properties.TryGetValue(RejectedByKey, out var rejectedBy);
                throw Translate(exception, rejectedBy, kind, item, cancellationToken);
            }

            return (T)outcome.Result!;
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    /// <summary>
    /// The timeout-only pipeline without Polly: the attempt under a timeout on the injected clock, its failure
    /// translated as Polly's would be (an attempt cancelled by the timeout, not by the caller, is a timeout).
    /// </summary>
    private async ValueTask<T> ExecuteWithTimeoutAsync<T, TState>(Func<TState, CancellationToken, ValueTask<T>> call, TState state, string kind, string item, CancellationToken cancellationToken, CancellationToken cut)
        where T : class
    {
        var timeout = _timeouts.Rent(AttemptTimeout);
        var caller = cancellationToken.UnsafeRegister(static source => ((CancellationTokenSource)source!).Cancel(), timeout);
        var onCut = cut.UnsafeRegister(static source => ((CancellationTokenSource)source!).Cancel(), timeout);
        try
        {
            return await call(state, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested && !cut.IsCancellationRequested)
        {
            throw TimedOut(kind, item);
        }
        catch (Exception ex)
        {
            throw Translate(ex, rejectedBy: null, kind, item, cut.IsCancellationRequested ? cut : cancellationToken);
        }
        finally
        {
            caller.Dispose();
            onCut.Dispose();
            _timeouts.Return(timeout);
        }
    }

    private static bool IsRepeatable(ResilienceContext context) => context.Properties.GetValue(RepeatableKey, false);

    private Exception Translate(Exception exception, string? rejectedBy, string kind, string item, CancellationToken cancellationToken)
    {
        switch (exception)
        {
            case OperationCanceledException when cancellationToken.IsCancellationRequested:
                ExceptionDispatchInfo.Throw(exception);
                return exception;
            case ProxyRejectedException rejected:
                return new ProxyRefusedException(rejected.Message);
            case RateLimiterRejectedException limited when rejectedBy == "rate_limit":
                return new ProxyRefusedException(
                    $"Backend '{_backend}' rate limit exceeded ({_config.RateLimit!.Requests} requests per {_config.RateLimit.PeriodSeconds:0.###} s{(_config.RateLimit.Scope == RateLimitScope.Global ? " across replicas" : "")})" +
                    (limited.RetryAfter is { } after ? $"; retry after {Math.Ceiling(after.TotalMilliseconds):0} ms." : "."));
            case RateLimiterRejectedException:
                return new ProxyRefusedException(
                    $"Backend '{_backend}' is at its concurrency limit ({_config.Concurrency!.MaxConcurrent} calls in flight, {_config.Concurrency.MaxQueued} waiting); retry later.");
            case TimeoutRejectedException:
                return TimedOut(kind, item);
            case BackendCallCutException cut:
                return cut; // already names the backend and says what happened
            case McpProtocolException { ErrorCode: McpErrorCode.MissingRequiredClientCapability } missing:
                // -32021 keeps its data: the caller must learn which capabilities the backend needs (SEP-2575).
                return new MissingRequiredClientCapabilityException(
                    RequiredCapabilities(missing) ?? new ClientCapabilities(), $"Backend '{_backend}': {missing.Message}");
            case McpProtocolException protocol:
                return new McpProtocolException($"Backend '{_backend}': {protocol.Message}", protocol, protocol.ErrorCode);
            default:
                // The exception's text stays in the log (it is the inner exception); the client gets a generic reason.
                return new McpProtocolException(
                    $"Backend '{_backend}' failed on {kind} '{item}': {BackendFailure.PublicReason(exception)}.", exception, McpErrorCode.InternalError);
        }
    }

    private McpProtocolException TimedOut(string kind, string item) =>
        new($"Backend '{_backend}' timed out after {AttemptTimeout.TotalSeconds:0.###} s on {kind} '{item}'.", McpErrorCode.InternalError);

    private sealed class GateStrategyOptions : ResilienceStrategyOptions
    {
        public GateStrategyOptions() => Name = "outlier_and_circuit_breaker";
    }

    /// <summary>Outlier ejection and the circuit breaker as one Polly strategy: admit or refuse, then record the outcome.</summary>
    private sealed class GateStrategy(OutlierDetector? outlier, CircuitBreaker? breaker, ResilienceMetrics metrics, string backend) : ResilienceStrategy<object>
    {
        protected override async ValueTask<Outcome<object>> ExecuteCore<TState>(
            Func<ResilienceContext, TState, ValueTask<Outcome<object>>> callback, ResilienceContext context, TState state)
        {
            try
            {
                outlier?.Enter();
                breaker?.Enter();
            }
            catch (ProxyRejectedException ex)
            {
                metrics.Rejected(backend, outlier?.IsEjected == true ? "ejected" : "circuit_open");
                return Outcome.FromException<object>(ex);
            }

            var outcome = await callback(context, state).ConfigureAwait(context.ContinueOnCapturedContext);
            if (outcome.Exception is OperationCanceledException && context.CancellationToken.IsCancellationRequested)
            {
                breaker?.Release(); // a cancelled attempt (caller gone, hedge lost) says nothing about the backend
                return outcome;
            }

            var failed = BackendFailure.IsFailure(outcome.Exception);
            breaker?.Record(failed);
            outlier?.Record(failed);
            return outcome;
        }
    }

    /// <summary>The capabilities a backend's -32021 names (the client keeps the error's data in the exception's Data).</summary>
    private static ClientCapabilities? RequiredCapabilities(McpProtocolException exception)
    {
        if (exception is MissingRequiredClientCapabilityException typed)
        {
            return typed.RequiredCapabilities;
        }

        try
        {
            return exception.Data["requiredCapabilities"] switch
            {
                System.Text.Json.JsonElement element => System.Text.Json.JsonSerializer.Deserialize(element, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(ClientCapabilities))) as ClientCapabilities,
                string text => System.Text.Json.JsonSerializer.Deserialize(text, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(ClientCapabilities))) as ClientCapabilities,
                _ => null,
            };
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }
}
