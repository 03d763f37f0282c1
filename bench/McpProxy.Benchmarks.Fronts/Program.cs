using System.Globalization;
using System.Net;
using McpProxy.Benchmarks.Fronts;
using Yarp.ReverseProxy.Configuration;

// The benchmark's two reference fronts (issue 16), each in front of the same MCP backend:
//   yarp    --port P --backend http://127.0.0.1:S/          YARP as a transparent HTTP hop (every path to the backend)
//   forward --port P --route http=http://127.0.0.1:S/mcp    a minimal MCP-aware byte forwarder on /mcp (ByteForwarder)
// Both answer GET /_bench/allocated with the process's managed allocations so far (GC.GetTotalAllocatedBytes).
var mode = args.Length > 0 ? args[0] : throw new ArgumentException("usage: yarp|forward --port P (--backend URL | --route name=URL ...)");
var port = 0;
Uri? backend = null;
var routes = new List<(string Name, Uri Endpoint)>();
for (var i = 1; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--port":
            port = int.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--backend":
            backend = new Uri(args[++i]);
            break;
        case "--route":
            var route = args[++i].Split('=', 2);
            routes.Add((route[0], new Uri(route[1])));
            break;
        default:
            throw new ArgumentException($"unknown option {args[i]}");
    }
}

var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(k =>
{
    k.AddServerHeader = false;
    k.Listen(IPAddress.Loopback, port);
});

if (mode == "yarp")
{
    builder.Services.AddReverseProxy().LoadFromMemory(
        [new RouteConfig { RouteId = "all", ClusterId = "backend", Match = new RouteMatch { Path = "/{**catch-all}" } }],
        [new ClusterConfig
        {
            ClusterId = "backend",
            Destinations = new Dictionary<string, DestinationConfig> { ["backend"] = new() { Address = (backend ?? throw new ArgumentException("--backend is required")).ToString() } },
        }]);
}

var app = builder.Build();
app.MapGet("/_bench/allocated", () => GC.GetTotalAllocatedBytes(precise: false).ToString(CultureInfo.InvariantCulture));
switch (mode)
{
    case "yarp":
        app.MapReverseProxy();
        break;
    case "forward":
        var forwarder = new ByteForwarder(routes.Count > 0 ? routes : throw new ArgumentException("--route is required"));
        app.Map("/mcp", forwarder.ForwardAsync);
        break;
    default:
        throw new ArgumentException($"unknown mode {mode}");
}

await app.RunAsync();
