using System.Collections.Concurrent;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace McpProxy.Tests.Infrastructure;

/// <summary>A span as exported over OTLP: ids as lowercase hex, and the exporting service's <c>service.name</c>.</summary>
public sealed record ExportedSpan(string Service, string TraceId, string SpanId, string? ParentSpanId, string Name)
{
    /// <summary>The span's string attributes.</summary>
    public IReadOnlyDictionary<string, string> Attributes { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// A real OTLP/HTTP (protobuf) endpoint on loopback that keeps the spans services export to it: what a collector
/// such as Jaeger receives. It decodes the few fields of <c>ExportTraceServiceRequest</c> it needs with Google.Protobuf's
/// wire reader (no generated OTLP types are packaged for .NET); metrics and logs are accepted and dropped.
/// </summary>
public sealed class OtlpTraceReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ExportedSpan> _spans = new();

    private OtlpTraceReceiver(WebApplication app) => _app = app;

    public Uri Endpoint { get; private init; } = null!;

    public IReadOnlyCollection<ExportedSpan> Spans => _spans.ToArray();

    public static async Task<OtlpTraceReceiver> StartAsync()
    {
        OtlpTraceReceiver? receiver = null;
        var (app, address) = await LoopbackWebApp.StartAsync(app =>
        {
            app.MapPost("/v1/traces", async (HttpRequest request) =>
            {
                using var body = new MemoryStream();
                await request.Body.CopyToAsync(body);
                receiver!.Decode(body.ToArray());
                return Results.Ok();
            });
            app.MapPost("/v1/{signal}", () => Results.Ok());
        });
        receiver = new OtlpTraceReceiver(app) { Endpoint = address };
        return receiver;
    }

    /// <summary>Waits until a span matching <paramref name="predicate"/> has been exported.</summary>
    public async Task<ExportedSpan> WaitForSpanAsync(Func<ExportedSpan, bool> predicate, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (_spans.FirstOrDefault(predicate) is { } span)
            {
                return span;
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    // ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
    private void Decode(byte[] payload)
    {
        foreach (var resourceSpans in Messages(payload, 1))
        {
            var service = "";
            foreach (var resource in Messages(resourceSpans, 1))
            {
                foreach (var attribute in Messages(resource, 1))
                {
                    if (Strings(attribute, 1).FirstOrDefault() == "service.name")
                    {
                        service = Messages(attribute, 2).SelectMany(v => Strings(v, 1)).FirstOrDefault() ?? "";
                    }
                }
            }

            foreach (var scopeSpans in Messages(resourceSpans, 2))
            {
                foreach (var span in Messages(scopeSpans, 2))
                {
                    var parent = Messages(span, 4).FirstOrDefault();
                    // Span.attributes = 9: KeyValue { key = 1; AnyValue value = 2 { string_value = 1 } }
                    var attributes = new Dictionary<string, string>();
                    foreach (var attribute in Messages(span, 9))
                    {
                        if (Strings(attribute, 1).FirstOrDefault() is { } key && Messages(attribute, 2).SelectMany(v => Strings(v, 1)).FirstOrDefault() is { } value)
                        {
                            attributes[key] = value;
                        }
                    }

                    _spans.Enqueue(new ExportedSpan(
                        service,
                        Convert.ToHexStringLower(Messages(span, 1).First()),
                        Convert.ToHexStringLower(Messages(span, 2).First()),
                        parent is { Length: > 0 } ? Convert.ToHexStringLower(parent) : null,
                        Strings(span, 5).FirstOrDefault() ?? "") { Attributes = attributes });
                }
            }
        }
    }

    /// <summary>The length-delimited fields number <paramref name="field"/> of a message, in order.</summary>
    private static List<byte[]> Messages(byte[] message, int field)
    {
        var result = new List<byte[]>();
        var input = new CodedInputStream(message);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) == field && WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited)
            {
                result.Add(input.ReadBytes().ToByteArray());
            }
            else
            {
                input.SkipLastField();
            }
        }

        return result;
    }

    private static IEnumerable<string> Strings(byte[] message, int field) =>
        Messages(message, field).Select(System.Text.Encoding.UTF8.GetString);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
