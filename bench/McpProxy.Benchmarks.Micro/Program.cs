using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/McpProxy.Benchmarks.Micro -- --job short --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(McpProxy.Benchmarks.Micro.ResilienceBenchmarks).Assembly).Run(args);
