using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

// Where a process's managed allocations come from, from an EventPipe trace taken with the gc-verbose profile
// (dotnet-trace collect --profile gc-verbose): the runtime samples one allocation per ~100 KB allocated
// (GCAllocationTick) with its type and stack. Prints each type's share of the sampled bytes, then the heaviest
// type + call-stack pairs (the innermost frames, async plumbing left out).
//   dotnet run --project bench/profile/AllocationReport -- <trace.nettrace> [frames] [top]
// TraceEvent reads the trace (there is no allocation report in dotnet-trace itself).
if (args.Length == 0)
{
    Console.Error.WriteLine("usage: AllocationReport <trace.nettrace> [frames (default 6)] [top (default 25)]");
    return 2;
}

var frames = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 6;
var top = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 25;
using var log = new TraceLog(TraceLog.CreateFromEventPipeDataFile(args[0]));
var byType = new Dictionary<string, long>();
var byStack = new Dictionary<string, long>();
long total = 0;
foreach (var data in log.Events)
{
    if (data is not GCAllocationTickTraceData tick)
    {
        continue;
    }

    var type = tick.TypeName ?? "?";
    total += tick.AllocationAmount64;
    byType[type] = byType.GetValueOrDefault(type) + tick.AllocationAmount64;
    var names = new List<string>();
    for (var stack = data.CallStack(); stack is not null && names.Count < frames; stack = stack.Caller)
    {
        var name = stack.CodeAddress.FullMethodName;
        if (!string.IsNullOrEmpty(name) && !IsPlumbing(name))
        {
            names.Add(name.Length > 150 ? name[..150] : name);
        }
    }

    var key = type + Environment.NewLine + string.Concat(names.Select(n => "      " + n + Environment.NewLine));
    byStack[key] = byStack.GetValueOrDefault(key) + tick.AllocationAmount64;
}

Console.WriteLine($"sampled {total / 1048576.0:F1} MiB");
foreach (var (type, bytes) in byType.OrderByDescending(p => p.Value).Take(top))
{
    Console.WriteLine($"{100.0 * bytes / Math.Max(1, total),6:F2}%  {type}");
}

Console.WriteLine();
foreach (var (stack, bytes) in byStack.OrderByDescending(p => p.Value).Take(top))
{
    Console.Write($"{100.0 * bytes / Math.Max(1, total),6:F2}%  {stack}");
}

return 0;

static bool IsPlumbing(string name) =>
    name.Contains("AsyncMethodBuilderCore", StringComparison.Ordinal) || name.Contains("ExecutionContext.Run", StringComparison.Ordinal)
    || name.Contains("ThreadPoolWorkQueue", StringComparison.Ordinal) || name.Contains("PortableThreadPool", StringComparison.Ordinal)
    || name.Contains("AwaitTaskContinuation", StringComparison.Ordinal) || name.Contains("Thread.StartCallback", StringComparison.Ordinal);
