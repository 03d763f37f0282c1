using System.Globalization;

namespace McpProxy.Tests.Infrastructure;

/// <summary>Reads the Prometheus text the proxy serves at <c>/admin/metrics</c>.</summary>
internal static class PrometheusText
{
    internal sealed record Sample(string Name, Dictionary<string, string> Labels, double Value);

    public static List<Sample> Parse(string text)
    {
        var samples = new List<Sample>();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var brace = line.IndexOf('{', StringComparison.Ordinal);
            var space = line.LastIndexOf(' ');
            string name;
            string valueText;
            var labels = new Dictionary<string, string>();
            if (brace >= 0 && brace < space)
            {
                name = line[..brace];
                var end = line.LastIndexOf('}');
                foreach (var pair in line[(brace + 1)..end].Split("\",", StringSplitOptions.RemoveEmptyEntries))
                {
                    var eq = pair.IndexOf('=', StringComparison.Ordinal);
                    labels[pair[..eq]] = pair[(eq + 1)..].Trim('"');
                }

                valueText = line[(end + 1)..].Trim().Split(' ')[0];
            }
            else
            {
                name = line[..line.IndexOf(' ', StringComparison.Ordinal)];
                valueText = line[(name.Length + 1)..].Trim().Split(' ')[0];
            }

            samples.Add(new Sample(name, labels, double.Parse(valueText, NumberStyles.Float, CultureInfo.InvariantCulture)));
        }

        return samples;
    }

    /// <summary>The sum of the samples named <paramref name="name"/> with these labels, or null when there is none.</summary>
    public static double? Value(List<Sample> samples, string name, params (string Key, string Value)[] labels)
    {
        var matching = samples.Where(s => s.Name == name && labels.All(l => s.Labels.GetValueOrDefault(l.Key) == l.Value)).ToList();
        return matching.Count == 0 ? null : matching.Sum(s => s.Value);
    }

    /// <summary>Scrapes <c>/admin/metrics</c> and returns one value (null when the series is absent).</summary>
    public static async Task<double?> ScrapeAsync(HttpClient http, string name, params (string Key, string Value)[] labels) =>
        Value(Parse(await http.GetStringAsync("/admin/metrics")), name, labels);
}
