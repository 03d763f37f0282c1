using McpProxy.Tests.Infrastructure;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace McpProxy.Tests.Security;

/// <summary>
/// Resource URIs are normalized before any policy sees them, and the backend receives exactly the URI that was checked:
/// RBAC <c>allow_resources</c>, a backend's <c>expose_resources</c>/<c>hide_resources</c>, reads, subscriptions and
/// template completions, against the sample's file-like resources (a <c>file:</c> read echoes the URI it received).
/// </summary>
public sealed class ResourceUriTests
{
    private static CancellationToken Ct => TestContext.Timeout(60);

    // resources/subscribe reaches the backend as such only in the legacy era (a 2026-07-28 one gets it in subscriptions/listen).
    private const string LegacyEra = "protocol = \"2025-11-25\"";

    private const string Roles = """
        [[auth.roles]]
        name = "public"
        allow_resources = ["files/file:///public/", "files/sample://items/"]

        [[auth.roles]]
        name = "admin"

        [auth.role_mapping]
        claim = "scope"
        mapping = { "files:public" = "public", "mcp:admin" = "admin" }
        """;

    [Fact]
    public async Task A_role_allowed_only_a_prefix_cannot_leave_it_by_any_spelling_and_the_backend_gets_the_checked_uri()
    {
        await using var issuer = await JwtIssuer.StartAsync();
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync($"""
            {issuer.AuthToml(Roles)}

            {backend.Backend("files", LegacyEra)}
            """);
        await using var reader = await proxy.ConnectAsync(cancellationToken: Ct, bearerToken: issuer.Token("rita", scope: "files:public"));

        // Inside the prefix, however it is spelled: read, and the backend receives the normalized URI.
        foreach (var spelling in new[]
        {
            "files/file:///public/a.txt",
            "files/file:///public//a.txt",
            "files/file:///public/./a.txt",
            "files/file:///public/docs/../a.txt",
            "files/FILE:///public/a.txt",
            "files/file://LocalHost/public/a.txt",
            "files/file:/public/a.txt",
            "files/file:///public/%61.txt",
        })
        {
            var read = await reader.ReadResourceAsync(spelling, cancellationToken: Ct);
            var content = Assert.IsType<TextResourceContents>(Assert.Single(read.Contents));
            Assert.Equal("file file:///public/a.txt", content.Text);
            Assert.Equal("files/file:///public/a.txt", content.Uri); // re-namespaced on the way back
            Assert.Equal("resources/read file:///public/a.txt", backend.ReceivedUris[^1]);
        }

        var allowed = backend.ReceivedUris.Count;

        // Outside the prefix after normalization: refused as not allowed.
        foreach (var (spelling, normalized) in new[]
        {
            ("files/file:///public/../secret/x", "files/file:///secret/x"),
            ("files/file:///public/./../secret/x", "files/file:///secret/x"),
            ("files/file:///public//a/../../secret/x", "files/file:///secret/x"),
            ("files/file:///publicity/x", "files/file:///publicity/x"),
            ("files/file://evil.example/public/x", "files/file://evil.example/public/x"),
        })
        {
            var refused = await Assert.ThrowsAsync<McpProtocolException>(() => reader.ReadResourceAsync(spelling, cancellationToken: Ct).AsTask());
            Assert.Equal(McpErrorCode.InvalidParams, refused.ErrorCode);
            Assert.Contains($"The resource '{normalized}' is not allowed for this caller (rita)", refused.Message, StringComparison.Ordinal);
        }

        // Not normalizable at all: refused with the reason.
        foreach (var (spelling, reason) in new[]
        {
            ("files/file:///public/%2e%2e/secret/x", "an encoded '.' or '..' segment"),
            ("files/file:///public/.%2E/secret/x", "an encoded '.' or '..' segment"),
            ("files/file:///public/..%2Fsecret/x", "an encoded '/' or '\\'"),
            ("files/file:///public/..%5csecret/x", "an encoded '/' or '\\'"),
            ("files/file:///public/..\\secret/x", "a '\\'"),
            ("files/file:///../public/x", "'..' above the root"),
            ("files/file:///public//../../secret/x", "'..' above the root"), // empty segments collapse first
            ("files/file:///public/%zz", "an invalid percent-escape"),
            ("files/file:///public/%4", "an invalid percent-escape"),
            ("files/file:///public/a\u0001.txt", "a control character"),
            ("files/file:///public/a%00.txt", "a control character"),
        })
        {
            var refused = await Assert.ThrowsAsync<McpProtocolException>(() => reader.ReadResourceAsync(spelling, cancellationToken: Ct).AsTask());
            Assert.Equal(McpErrorCode.InvalidParams, refused.ErrorCode);
            Assert.Contains("cannot be normalized", refused.Message, StringComparison.Ordinal);
            Assert.Contains(reason, refused.Message, StringComparison.Ordinal);
        }

        Assert.Equal(allowed, backend.ReceivedUris.Count); // nothing refused reached the backend

        // Subscribe and unsubscribe decide on, and send, the normalized URI too. (Whether the proxy forwards an
        // unsubscribe at all is SessionHub's bookkeeping, not asserted here.)
        await Assert.ThrowsAsync<McpProtocolException>(() => reader.SubscribeToResourceAsync("files/file:///public/../secret/x", cancellationToken: Ct));
        await Assert.ThrowsAsync<McpProtocolException>(() => reader.SubscribeToResourceAsync("files/file:///public/%2e%2e/secret/x", cancellationToken: Ct));
        await reader.SubscribeToResourceAsync("files/FILE://localhost/public/./s.txt", cancellationToken: Ct);
        Assert.Equal("resources/subscribe file:///public/s.txt", backend.ReceivedUris[^1]);
        await Assert.ThrowsAsync<McpProtocolException>(() => reader.UnsubscribeFromResourceAsync("files/file:///public/../secret/x", cancellationToken: Ct));
        await reader.UnsubscribeFromResourceAsync("files/file:///public//s.txt", cancellationToken: Ct);
        Assert.DoesNotContain(backend.ReceivedUris, u => u.Contains("secret", StringComparison.Ordinal));

        // Template completion: the reference is checked and sent normalized; templates keep their {expressions}.
        await Assert.ThrowsAsync<McpProtocolException>(() => reader.CompleteAsync(
            new ResourceTemplateReference { Uri = "files/file:///public/../secret/{path}" }, "path", "", cancellationToken: Ct).AsTask());
        var completed = await reader.CompleteAsync(new ResourceTemplateReference { Uri = "files/file:///public/./{path}" }, "path", "", cancellationToken: Ct);
        Assert.Equal(["file:///public/{path}"], completed.Completion.Values);
        Assert.Equal("completion/complete file:///public/{path}", backend.ReceivedUris[^1]);
        Assert.Equal(["2"], (await reader.CompleteAsync(new ResourceTemplateReference { Uri = "files/sample://items/{id}" }, "id", "2", cancellationToken: Ct)).Completion.Values);
        Assert.Contains(await reader.ListResourceTemplatesAsync(cancellationToken: Ct), t => t.UriTemplate == "files/sample://items/{id}");
        Assert.Equal("item 42", Assert.IsType<TextResourceContents>(Assert.Single((await reader.ReadResourceAsync("files/sample://items/42", cancellationToken: Ct)).Contents)).Text);

        // A role with every resource reads the normalized URI as well: the backend never sees the raw spelling.
        await using var admin = await proxy.ConnectAsync(cancellationToken: Ct, bearerToken: issuer.Token("adam", scope: "mcp:admin"));
        await admin.ReadResourceAsync("files/file:///public/../secret/x", cancellationToken: Ct);
        Assert.Equal("resources/read file:///secret/x", backend.ReceivedUris[^1]);
    }

    [Fact]
    public async Task Expose_and_hide_resources_decide_on_the_normalized_uri_at_path_boundaries()
    {
        await using var backend = await SampleHttpHost.StartAsync();
        await using var proxy = await ProxyHost.StartAsync(
            backend.Backend("docs", "expose_resources = [\"file:///public\", \"sample://items/\"]")
            + backend.Backend("pub", "hide_resources = [\"file:///public/hidden/\", \"file:///secret\"]"));
        await using var client = await proxy.ConnectAsync(cancellationToken: Ct);

        foreach (var (spelling, received) in new[]
        {
            ("docs/file:///public", "file:///public"),
            ("docs/file:///public/a.txt", "file:///public/a.txt"),
            ("docs/File://LOCALHOST/public/x/../a.txt", "file:///public/a.txt"),
            ("pub/file:///public/hidden/../a.txt", "file:///public/a.txt"),
            ("pub/file:///public/hiddenness", "file:///public/hiddenness"),
            ("pub/file:///secretary", "file:///secretary"),
        })
        {
            await client.ReadResourceAsync(spelling, cancellationToken: Ct);
            Assert.Equal("resources/read " + received, backend.ReceivedUris[^1]);
        }

        var allowed = backend.ReceivedUris.Count;
        foreach (var spelling in new[]
        {
            "docs/file:///publicity/x",
            "docs/file:///public/../secret",
            "docs/FILE:///Public/a.txt",
            "pub/file:///public/hidden/x",
            "pub/file:///public/./hidden/x",
            "pub/file:///public//hidden/x",
            "pub/file:///public/%68idden/x",
            "pub/FILE:///secret",
            "pub/file://localhost/secret/x",
            "pub/file:/secret/x",
            "pub/file:///public/../secret/x",
        })
        {
            var refused = await Assert.ThrowsAsync<McpProtocolException>(() => client.ReadResourceAsync(spelling, cancellationToken: Ct).AsTask());
            Assert.Equal(McpErrorCode.InvalidParams, refused.ErrorCode);
            Assert.Contains("Unknown resource", refused.Message, StringComparison.Ordinal);
        }

        await Assert.ThrowsAsync<McpProtocolException>(() => client.SubscribeToResourceAsync("pub/file:///public/./hidden/x", cancellationToken: Ct));
        await Assert.ThrowsAsync<McpProtocolException>(() => client.CompleteAsync(
            new ResourceTemplateReference { Uri = "docs/file:///public/x/../../secret/{path}" }, "path", "", cancellationToken: Ct).AsTask());
        Assert.Equal(allowed, backend.ReceivedUris.Count);

        // The exposed template still lists and completes.
        Assert.Contains(await client.ListResourceTemplatesAsync(cancellationToken: Ct), t => t.UriTemplate == "docs/sample://items/{id}");
        Assert.Equal(["1"], (await client.CompleteAsync(new ResourceTemplateReference { Uri = "docs/sample://items/{id}" }, "id", "1", cancellationToken: Ct)).Completion.Values);
    }
}
