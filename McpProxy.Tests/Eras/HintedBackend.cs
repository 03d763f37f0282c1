using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelContextProtocol.Protocol;

namespace McpProxy.Tests.Eras;

/// <summary>
/// A small real MCP backend for the era tests: resources whose reads carry caching hints (<c>hint://public</c>,
/// <c>hint://private</c>, <c>hint://zero</c> = public with <c>ttlMs: 0</c>), each read counted and answered with its
/// count; and a tool <c>tagged</c> whose <c>region</c> argument is mirrored in the header <c>Mcp-Param-Region</c>.
/// </summary>
internal sealed class HintedBackend : IAsyncDisposable
{
    private readonly WebApplication _app;

    private HintedBackend(WebApplication app, Uri address)
    {
        _app = app;
        McpEndpoint = new Uri(address, "/mcp");
    }

    public Uri McpEndpoint { get; }

    public ConcurrentDictionary<string, int> Reads { get; } = new(StringComparer.Ordinal);

    private int _toolCalls;

    /// <summary>Tool calls this backend received.</summary>
    public int ToolCalls => Volatile.Read(ref _toolCalls);

    public static async Task<HintedBackend> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        HintedBackend? self = null;
        builder.Services.AddMcpServer()
            .WithHttpTransport()
            .WithListResourcesHandler((_, _) => ValueTask.FromResult(new ListResourcesResult
            {
                Resources = [.. new[] { "public", "private", "zero" }.Select(n => new Resource { Uri = "hint://" + n, Name = n })],
            }))
            .WithReadResourceHandler((ctx, _) =>
            {
                var uri = ctx.Params!.Uri;
                var count = self!.Reads.AddOrUpdate(uri, 1, (_, n) => n + 1);
                return ValueTask.FromResult(new ReadResourceResult
                {
                    Contents = [new TextResourceContents { Uri = uri, Text = $"read {count}" }],
                    CacheScope = uri == "hint://private" ? CacheScope.Private : CacheScope.Public,
                    TimeToLive = uri == "hint://zero" ? TimeSpan.Zero : TimeSpan.FromMinutes(1),
                });
            })
            .WithListToolsHandler((_, _) => ValueTask.FromResult(new ListToolsResult
            {
                Tools =
                [
                    new Tool
                    {
                        Name = "tagged",
                        Description = "Echoes its region.",
                        InputSchema = JsonDocument.Parse("""{"type":"object","properties":{"region":{"type":"string","x-mcp-header":"Region"},"count":{"type":"integer","x-mcp-header":"Count"}}}""").RootElement.Clone(),
                    },
                ],
            }))
            .WithCallToolHandler((ctx, _) => Interlocked.Increment(ref self!._toolCalls) > 0 ? ValueTask.FromResult(new CallToolResult
            {
                Content = [new TextContentBlock { Text = ctx.Params!.Arguments?.TryGetValue("region", out var r) == true ? r.ToString() : "none" }],
            }) : default);
        var app = builder.Build();
        app.MapMcp("/mcp");
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return self = new HintedBackend(app, new Uri(address));
    }

    public string Backend(string name, string extra = "") => Infrastructure.TestPaths.HttpBackend(name, McpEndpoint, extra);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
