namespace McpProxy.AppHost;

/// <summary>Resource names of the topology: shared by the AppHost, its config file and the tests.</summary>
public static class TopologyNames
{
    public const string Proxy = "proxy";

    /// <summary>How many proxy replicas the topology runs (and <c>azd up</c> deploys as the container app's replicas).</summary>
    public const int ProxyReplicas = 2;
    public const string SampleA = "sample-a";
    public const string SampleB = "sample-b";
    public const string Cache = "cache";
    public const string Jaeger = "jaeger";

    /// <summary>The proxy's config in this topology (in the AppHost folder; copied next to the proxy when published).</summary>
    public const string ConfigFileName = "mcp-proxy.aspire.toml";
}
