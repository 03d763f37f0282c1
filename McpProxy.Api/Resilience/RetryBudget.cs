namespace McpProxy.Resilience;

/// <summary>
/// Limits retries to <c>budget_percent</c> of the requests of the last <see cref="Window"/>, with a floor of
/// <c>min_retries_per_sec</c> over the same window (as Finagle's and Linkerd's retry budgets do), so a failing backend
/// is never hit with a multiple of its normal load. Polly's retry has no budget; this is the piece it lacks.
/// </summary>
internal sealed class RetryBudget(double budgetPercent, int minRetriesPerSecond, TimeProvider time)
{
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(10);
    private const int Buckets = 10;

    private readonly Lock _gate = new();
    private readonly int[] _requests = new int[Buckets];
    private readonly int[] _retries = new int[Buckets];
    private long _currentSecond = -1;

    public void RecordRequest()
    {
        lock (_gate)
        {
            _requests[Advance()]++;
        }
    }

    /// <summary>Takes one retry from the budget; <see langword="false"/> when it is spent.</summary>
    public bool TryAcquireRetry()
    {
        lock (_gate)
        {
            var slot = Advance();
            var allowed = (minRetriesPerSecond * Window.TotalSeconds) + (budgetPercent / 100.0 * _requests.Sum());
            if (_retries.Sum() + 1 > allowed)
            {
                return false;
            }

            _retries[slot]++;
            return true;
        }
    }

    private int Advance()
    {
        var second = time.GetUtcNow().ToUnixTimeSeconds();
        if (_currentSecond < 0 || second - _currentSecond >= Buckets)
        {
            Array.Clear(_requests);
            Array.Clear(_retries);
        }
        else
        {
            for (var s = _currentSecond + 1; s <= second; s++)
            {
                _requests[s % Buckets] = 0;
                _retries[s % Buckets] = 0;
            }
        }

        _currentSecond = Math.Max(_currentSecond, second);
        return (int)(second % Buckets);
    }
}
