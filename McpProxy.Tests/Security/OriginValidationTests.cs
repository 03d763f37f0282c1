using McpProxy.Configuration;
using McpProxy.Security;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging.Abstractions;

namespace McpProxy.Tests.Security;

/// <summary>
/// The DNS-rebinding rule alone, on a bare <see cref="HttpContext"/>: which <c>Host</c> and <c>Origin</c> headers pass,
/// given the listening addresses and <c>[security] allowed_hosts</c> / <c>allowed_origins</c>. No server runs.
/// </summary>
public sealed class OriginValidationTests
{
    private const string Loopback = "http://127.0.0.1:5000";
    private const string AnyAddress = "http://0.0.0.0:5000";

    private sealed class FakeServer(params string[] addresses) : IServer
    {
        public IFeatureCollection Features { get; } = Build(addresses);

        private static FeatureCollection Build(string[] addresses)
        {
            var features = new FeatureCollection();
            var feature = new ServerAddressesFeature();
            foreach (var address in addresses)
            {
                feature.Addresses.Add(address);
            }

            features.Set<IServerAddressesFeature>(feature);
            return features;
        }

        public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken) where TContext : notnull => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public void Dispose() { }
    }

    /// <summary>Whether the request reaches the next middleware (else it must have been refused with 403); <paramref name="listen"/> is comma-separated.</summary>
    private static async Task<bool> Passes(string host, string? origin = null, string listen = Loopback, string[]? allowedHosts = null, string[]? allowedOrigins = null)
    {
        var config = new ProxyConfig { Security = new SecurityConfig { AllowedHosts = allowedHosts, AllowedOrigins = allowedOrigins ?? [] } };
        var reached = false;
        var middleware = new OriginValidation(_ => { reached = true; return Task.CompletedTask; }, config, new FakeServer(listen.Split(',')), NullLogger<OriginValidation>.Instance);
        var context = new DefaultHttpContext();
        context.Request.Host = HostString.FromUriComponent(host);
        if (origin is not null)
        {
            context.Request.Headers.Origin = origin;
        }

        await middleware.InvokeAsync(context);
        if (!reached)
        {
            Assert.Equal(StatusCodes.Status403Forbidden, context.Response.StatusCode);
        }

        return reached;
    }

    [Theory]
    [InlineData("localhost:5000")]
    [InlineData("LOCALHOST")]
    [InlineData("127.0.0.1:5000")]
    [InlineData("[::1]:5000")]
    public async Task On_a_loopback_listener_loopback_hosts_pass(string host)
    {
        Assert.True(await Passes(host));
    }

    [Theory]
    [InlineData("evil.example:5000")]
    [InlineData("127.0.0.2")]
    [InlineData("localhost.evil.example")]
    public async Task On_a_loopback_listener_other_hosts_are_refused(string host)
    {
        Assert.False(await Passes(host));
    }

    [Theory]
    [InlineData("http://localhost:5000")]
    [InlineData("http://[::1]:5000")]
    public async Task Every_loopback_spelling_of_the_listening_address_counts_as_loopback(string listen)
    {
        Assert.False(await Passes("evil.example", listen: listen));
    }

    [Fact]
    public async Task A_listener_beyond_loopback_accepts_any_host()
    {
        Assert.True(await Passes("proxy.example", listen: AnyAddress));
    }

    [Fact]
    public async Task One_address_beyond_loopback_makes_the_listener_not_loopback_only()
    {
        Assert.True(await Passes("proxy.example", listen: Loopback + "," + AnyAddress));
    }

    [Fact]
    public async Task Allowed_hosts_replace_the_loopback_default()
    {
        Assert.True(await Passes("proxy.lan:5000", allowedHosts: ["proxy.lan"]));
        Assert.False(await Passes("localhost:5000", allowedHosts: ["proxy.lan"]));
    }

    [Fact]
    public async Task A_star_in_allowed_hosts_accepts_any_host()
    {
        Assert.True(await Passes("anything.example", allowedHosts: ["*"]));
    }

    [Fact]
    public async Task A_request_without_an_origin_passes_the_origin_check()
    {
        Assert.True(await Passes("localhost", origin: null, listen: AnyAddress));
    }

    [Theory]
    [InlineData("http://localhost:3000")]
    [InlineData("https://127.0.0.1")]
    [InlineData("http://[::1]:8080")]
    public async Task On_a_loopback_listener_a_loopback_origin_passes(string origin)
    {
        Assert.True(await Passes("localhost", origin));
    }

    [Theory]
    [InlineData("http://evil.example")]
    [InlineData("null")]
    [InlineData("ws://localhost:3000")]
    [InlineData("http://localhost.evil.example")]
    public async Task On_a_loopback_listener_a_foreign_or_unparsable_origin_is_refused(string origin)
    {
        Assert.False(await Passes("localhost", origin));
    }

    [Fact]
    public async Task The_host_header_never_makes_its_own_origin_trusted()
    {
        Assert.False(await Passes("proxy.example", "http://proxy.example", listen: AnyAddress));
    }

    [Fact]
    public async Task Beyond_loopback_even_a_loopback_origin_needs_allowed_origins()
    {
        Assert.False(await Passes("proxy.example", "http://localhost:3000", listen: AnyAddress));
    }

    [Fact]
    public async Task On_a_loopback_listener_an_origin_on_an_allowed_host_passes()
    {
        Assert.True(await Passes("proxy.lan", "http://proxy.lan:8080", allowedHosts: ["proxy.lan"]));
    }

    [Theory]
    [InlineData("https://app.example")]
    [InlineData("https://APP.example")]
    [InlineData("https://app.example/")]
    public async Task A_listed_origin_passes_ignoring_case_and_a_trailing_slash(string origin)
    {
        Assert.True(await Passes("proxy.example", origin, listen: AnyAddress, allowedOrigins: ["https://app.example/"]));
    }

    [Theory]
    [InlineData("http://app.example")]
    [InlineData("https://app.example:8443")]
    [InlineData("https://app.example.evil")]
    public async Task An_origin_differing_from_a_listed_one_in_scheme_port_or_host_is_refused(string origin)
    {
        Assert.False(await Passes("proxy.example", origin, listen: AnyAddress, allowedOrigins: ["https://app.example"]));
    }

    [Fact]
    public async Task A_star_in_allowed_origins_accepts_any_origin()
    {
        Assert.True(await Passes("proxy.example", "https://anywhere.example", listen: AnyAddress, allowedOrigins: ["*"]));
    }
}
