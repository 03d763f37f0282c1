using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading.Channels;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;

namespace McpProxy.Mrtr;

/// <summary>What a modern caller's call is bound to: the backend, the method, the item as the caller named it, the caller.</summary>
internal sealed record MrtrTarget(string Backend, string Method, string Item, string Caller);

/// <summary>
/// One modern caller's <c>tools/call</c>, <c>prompts/get</c> or <c>resources/read</c>, run in the background under its
/// own cancellation so that it can outlive the HTTP request that started it:
/// <list type="bullet">
/// <item>a modern backend's <c>input_required</c> (captured by <see cref="PassThroughSlot"/>) becomes the caller's
/// <c>input_required</c> with the backend's <c>requestState</c> sealed inside the proxy's (stateless: any replica
/// finishes the retry);</item>
/// <item>a legacy backend's server→client request (<see cref="AskAsync"/>, from <c>Backends.ClientRequestRelay</c>)
/// parks the call (<see cref="BridgeRegistry"/>) and answers the caller <c>input_required</c> with that request; the
/// caller's retry (<see cref="ResumeAsync"/>) answers the backend's pending request and waits for what comes next.</item>
/// </list>
/// </summary>
internal sealed class BridgeCall(
    MrtrTarget target, ClientCapabilities? callerCapabilities, RequestStateProtector states, BridgeRegistry registry, TimeProvider time)
{
    private static readonly ConditionalWeakTable<object, BridgeCall> s_bySession = new();

    private readonly Channel<Pending> _asks = Channel.CreateUnbounded<Pending>();
    private readonly CancellationTokenSource _cts = new();
    private readonly PassThroughSlot _slot = PassThroughSlot.Create(target.Backend, callerCapabilities);
    private Task<object>? _run;
    private Pending? _parked;
    private ITimer? _expiry;
    private int _keys;

    public MrtrTarget Target => target;

    /// <summary>Links a caller's request-bound server to its call, for the relay (<see cref="Of"/>).</summary>
    public void Attach(object session) => s_bySession.AddOrUpdate(session, this);

    /// <summary>The bridged call a request-bound server belongs to, if any.</summary>
    public static BridgeCall? Of(object session) => s_bySession.TryGetValue(session, out var call) ? call : null;

    /// <summary>Whether the caller declared the capability a backend's <paramref name="method"/> needs.</summary>
    public bool Declares(string method) => Allowed(method, callerCapabilities);

    /// <summary>The pass-through slot's id, for the forwarded request's <c>_meta</c> (<see cref="PassThroughSlot.MetaKey"/>).</summary>
    public string SlotId => _slot.Id;

    /// <summary>Starts the backend call in the background.</summary>
    public void Start(Func<CancellationToken, Task<object>> run) =>
        _run = Task.Run(async () =>
        {
            try
            {
                return await run(_cts.Token).ConfigureAwait(false);
            }
            finally
            {
                _slot.Release();
            }
        });

    /// <summary>
    /// The caller's answer for this round: the backend's final result, or an <see cref="InputRequiredException"/> the SDK
    /// turns into an <c>input_required</c> result, or the backend's error. <paramref name="cancellationToken"/> (the
    /// caller's request) cancels the call only until it parks.
    /// </summary>
    public async Task<object> NextAsync(CancellationToken cancellationToken)
    {
        var run = _run ?? throw new InvalidOperationException("The call was not started.");
        Pending pending;
        using (cancellationToken.Register(static s => ((CancellationTokenSource)s!).Cancel(), _cts))
        {
            using var reading = new CancellationTokenSource();
            var ask = _asks.Reader.ReadAsync(reading.Token).AsTask();
            if (await Task.WhenAny(run, ask).ConfigureAwait(false) == run)
            {
                await reading.CancelAsync().ConfigureAwait(false);
                return await FinishAsync(run).ConfigureAwait(false);
            }

            pending = await ask.ConfigureAwait(false);
        }

        if (!Allowed(pending.Method, callerCapabilities))
        {
            pending.Answer.TrySetException(new McpProtocolException(
                $"McpProxy cannot relay this request: the client calling backend '{target.Backend}' did not declare the capability for {pending.Method}.",
                McpErrorCode.InvalidRequest));
            await _cts.CancelAsync().ConfigureAwait(false);
            throw Missing([pending.Method]);
        }

        throw Park(pending);
    }

    /// <summary>The caller's retry, on the replica that owns the call (the exchange was taken from <see cref="BridgeRegistry"/>).</summary>
    public Task<object> ResumeAsync(IDictionary<string, InputResponse>? responses, CancellationToken cancellationToken)
    {
        _expiry?.Dispose();
        var pending = _parked ?? throw RequestStateProtector.Refused("the call it belongs to has no pending input request");
        if (responses is null || !responses.TryGetValue(pending.Key, out var response))
        {
            // Not answered (a missing or wrong key): ask again, as a fresh input_required.
            throw Park(pending);
        }

        _parked = null;
        pending.Answer.TrySetResult(response.RawValue);
        return NextAsync(cancellationToken);
    }

    /// <summary>
    /// A legacy backend's server→client request during this call (from <c>Backends.ClientRequestRelay</c>): waits
    /// until the caller's retry answers it, or the exchange expires.
    /// </summary>
    public async ValueTask<TResult> AskAsync<TResult>(string method, object? parameters, CancellationToken cancellationToken)
    {
        var pending = new Pending(
            method,
            JsonSerializer.SerializeToElement(parameters, McpJsonUtilities.DefaultOptions.GetTypeInfo(parameters?.GetType() ?? typeof(object))),
            KeyFor(method, Interlocked.Increment(ref _keys)));
        await _asks.Writer.WriteAsync(pending, cancellationToken).ConfigureAwait(false);
        using var cancel = cancellationToken.Register(() => pending.Answer.TrySetCanceled(cancellationToken));
        var answer = await pending.Answer.Task.ConfigureAwait(false);
        return (TResult)(answer.Deserialize(McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(TResult)))
            ?? throw new McpProtocolException($"The client answered {method} with null.", McpErrorCode.InvalidParams));
    }

    private async Task<object> FinishAsync(Task<object> run)
    {
        try
        {
            return await run.ConfigureAwait(false);
        }
        catch (McpProtocolException ex) when ((int)ex.ErrorCode == PassThroughSlot.CapturedCode && _slot.Result is { } raw)
        {
            // A modern backend's input_required: to the caller as is, its requestState sealed inside ours.
            var result = raw.Deserialize(McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(InputRequiredResult))) as InputRequiredResult
                ?? throw new McpProtocolException("Backend returned an empty input_required result.", McpErrorCode.InternalError);
            var missing = result.InputRequests?.Values.Select(r => r.Method).Where(m => !Allowed(m, callerCapabilities)).Distinct().ToList() ?? [];
            if (missing.Count > 0)
            {
                throw Missing(missing);
            }

            throw new InputRequiredException(new InputRequiredResult
            {
                InputRequests = result.InputRequests,
                RequestState = states.Seal(State(StateKind.Pass) with { BackendState = result.RequestState }),
            });
        }
        finally
        {
            _cts.Dispose();
        }
    }

    private InputRequiredException Park(Pending pending)
    {
        _parked = pending;
        var id = registry.Park(this);
        _expiry = time.CreateTimer(_ => Expire(id), null, states.Ttl, Timeout.InfiniteTimeSpan);
        var request = new InputRequest { Method = pending.Method, Params = pending.Params };
        return new InputRequiredException(
            new Dictionary<string, InputRequest> { [pending.Key] = request },
            states.Seal(State(StateKind.Bridge) with { Replica = registry.ReplicaId, Exchange = id }));
    }

    /// <summary>No retry in time: the backend's request is answered "cancel" (elicitation) or an error, and the call ends.</summary>
    private void Expire(string id)
    {
        if (!registry.TryRemove(id, this) || _parked is not { } pending)
        {
            return;
        }

        if (pending.Method == RequestMethods.ElicitationCreate)
        {
            pending.Answer.TrySetResult(JsonSerializer.SerializeToElement(new ElicitResult { Action = "cancel" }, McpJsonUtilities.DefaultOptions.GetTypeInfo(typeof(ElicitResult))));
        }
        else
        {
            pending.Answer.TrySetException(new McpProtocolException($"The client did not answer {pending.Method} in time.", McpErrorCode.InternalError));
        }

        try
        {
            _cts.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // the call ended meanwhile
        }
    }

    private MrtrState State(StateKind kind) => new()
    {
        Kind = kind,
        Backend = target.Backend,
        Method = target.Method,
        Item = RequestStateProtector.Digest(target.Item),
        Caller = RequestStateProtector.Digest(target.Caller),
    };

#pragma warning disable MCP9005 // sampling and roots are deprecated from 2026-07-28, but the caller may still declare them
    private static bool Allowed(string method, ClientCapabilities? caps) => method switch
    {
        RequestMethods.ElicitationCreate => caps?.Elicitation is not null,
        RequestMethods.SamplingCreateMessage => caps?.Sampling is not null,
        RequestMethods.RootsList => caps?.Roots is not null,
        _ => false,
    };

    private static MissingRequiredClientCapabilityException Missing(IEnumerable<string> methods)
    {
        var required = new ClientCapabilities();
        foreach (var method in methods)
        {
            switch (method)
            {
                case RequestMethods.ElicitationCreate: required.Elicitation = new ElicitationCapability(); break;
                case RequestMethods.SamplingCreateMessage: required.Sampling = new SamplingCapability(); break;
                case RequestMethods.RootsList: required.Roots = new RootsCapability(); break;
            }
        }

        return new MissingRequiredClientCapabilityException(required, $"The backend asks for {string.Join(", ", methods)}, which this request's clientCapabilities do not declare.");
    }
#pragma warning restore MCP9005

    private static string KeyFor(string method, int n) => method switch
    {
        RequestMethods.ElicitationCreate => $"elicitation_{n}",
        RequestMethods.SamplingCreateMessage => $"sampling_{n}",
        RequestMethods.RootsList => $"roots_{n}",
        _ => $"request_{n}",
    };

    private sealed record Pending(string Method, JsonElement Params, string Key)
    {
        public TaskCompletionSource<JsonElement> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
