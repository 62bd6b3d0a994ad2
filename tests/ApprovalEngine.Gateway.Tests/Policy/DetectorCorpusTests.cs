using System.Globalization;
using ApprovalEngine.Gateway.Policy;
using ApprovalEngine.Testing;
using Xunit.Abstractions;
using YamlDotNet.RepresentationModel;

namespace ApprovalEngine.Gateway.Tests.Policy;

/// <summary>
/// The labelled corpus (detector-corpus.yml): every case is scanned with all detectors, and each detector's found set
/// is compared with the label. Per detector, a case counts as a true positive when the detector is expected and found,
/// a false positive when found but not expected, a false negative when expected but not found.
/// </summary>
public sealed class DetectorCorpusTests(ITestOutputHelper output)
{
    // Scanners must never see a whole token in the repository; the corpus splits them with this marker.
    private const string Marker = "{{}}";
    private const string MixedSection = "mixed";
    private const int MinCasesPerKind = 8;
    private const double OverallFloor = 0.95, DetectorFloor = 0.8;

    [Fact]
    public void Corpus_EveryDetector_HasEnoughHitsAndNearMissesWithKnownLabels()
    {
        var cases = LoadCorpus();

        foreach (var name in Detectors.Names)
        {
            Assert.True(cases.Count(c => c.Section == name && c.IsHit) >= MinCasesPerKind, $"{name}: fewer than {MinCasesPerKind} hits");
            Assert.True(cases.Count(c => c.Section == name && !c.IsHit) >= MinCasesPerKind, $"{name}: fewer than {MinCasesPerKind} near-misses");
        }

        var unknown = cases.SelectMany(c => c.Expected).Where(n => !Detectors.Names.Contains(n)).ToList();
        Assert.Empty(unknown);
        var unknownSections = cases.Select(c => c.Section).Distinct().Where(s => s != MixedSection && !Detectors.Names.Contains(s)).ToList();
        Assert.Empty(unknownSections);
    }

    [Fact]
    public void Corpus_AllDetectors_PrecisionAndRecallAboveFloors()
    {
        var cases = LoadCorpus();
        var counts = Detectors.Names.ToDictionary(n => n, _ => new Counts());
        var misclassified = new List<string>();
        var findings = new List<Finding>();

        foreach (var item in cases)
        {
            findings.Clear();
            DetectorSet.All.Scan(item.Text, findings);
            var found = findings.Select(f => f.Detector).ToHashSet();
            foreach (var (name, count) in counts)
            {
                var expected = item.Expected.Contains(name);
                var hit = found.Contains(name);
                count.TruePositives += expected && hit ? 1 : 0;
                count.FalsePositives += !expected && hit ? 1 : 0;
                count.FalseNegatives += expected && !hit ? 1 : 0;
            }

            if (!found.SetEquals(item.Expected))
            {
                misclassified.Add(
                    $"  {item.Section} {(item.IsHit ? "hit" : "near-miss")} #{item.Index}: expected [{string.Join(", ", item.Expected.Order())}], " +
                    $"found [{string.Join(", ", found.Order())}] in {Quote(item.Text)}");
            }
        }

        var total = new Counts
        {
            TruePositives = counts.Values.Sum(c => c.TruePositives),
            FalsePositives = counts.Values.Sum(c => c.FalsePositives),
            FalseNegatives = counts.Values.Sum(c => c.FalseNegatives),
        };
        foreach (var (name, count) in counts)
        {
            var hits = cases.Count(c => c.Section == name && c.IsHit);
            var misses = cases.Count(c => c.Section == name && !c.IsHit);
            TestFigures.Report($"detector {name}", $"{count} over {hits} hits and {misses} near-misses", output);
        }

        TestFigures.Report("detectors overall", $"{total} over {cases.Count} corpus texts", output);
        foreach (var line in misclassified)
        {
            output.WriteLine(line);
        }

        var failures = counts
            .Where(p => p.Value.Precision < DetectorFloor || p.Value.Recall < DetectorFloor)
            .Select(p => $"{p.Key}: {p.Value}")
            .ToList();
        if (total.Precision < OverallFloor || total.Recall < OverallFloor)
        {
            failures.Add($"overall: {total}");
        }

        Assert.True(
            failures.Count == 0,
            $"Below the floors (overall {OverallFloor}, per detector {DetectorFloor}):\n  {string.Join("\n  ", failures)}\n" +
            $"Misclassified:\n{string.Join("\n", misclassified)}");
    }

    private static string Quote(string text) =>
        "\"" + text.Replace("\n", "\\n", StringComparison.Ordinal).Replace("\t", "\\t", StringComparison.Ordinal) + "\"";

    private static List<CorpusCase> LoadCorpus()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Policy", "detector-corpus.yml");
        var yaml = new YamlStream();
        using (var reader = File.OpenText(path))
        {
            yaml.Load(reader);
        }

        var cases = new List<CorpusCase>();
        var root = (YamlMappingNode)yaml.Documents[0].RootNode;
        foreach (var (key, value) in root.Children)
        {
            var section = ((YamlScalarNode)key).Value!;
            foreach (var (kindKey, list) in ((YamlMappingNode)value).Children)
            {
                var kind = ((YamlScalarNode)kindKey).Value;
                Assert.True(kind is "hits" or "misses", $"{section}: unknown list '{kind}' at {kindKey.Start}");
                var isHit = kind == "hits";
                var index = 0;
                foreach (var node in (YamlSequenceNode)list)
                {
                    cases.Add(ReadCase(section, isHit, ++index, node));
                }
            }
        }

        return cases;
    }

    private static CorpusCase ReadCase(string section, bool isHit, int index, YamlNode node)
    {
        string text;
        HashSet<string> expected;
        if (node is YamlScalarNode scalar)
        {
            text = scalar.Value!;
            expected = isHit && section != MixedSection ? [section] : [];
        }
        else
        {
            var mapping = (YamlMappingNode)node;
            text = ((YamlScalarNode)mapping.Children[new YamlScalarNode("text")]).Value!;
            expected = mapping.Children.TryGetValue(new YamlScalarNode("expect"), out var labels)
                ? ((YamlSequenceNode)labels).Children.Select(l => ((YamlScalarNode)l).Value!).ToHashSet()
                : isHit && section != MixedSection ? [section] : [];
        }

        Assert.False(isHit && expected.Count == 0, $"{section} hit #{index} at {node.Start} expects nothing");
        return new CorpusCase(section, isHit, index, text.Replace(Marker, "", StringComparison.Ordinal), expected);
    }

    private sealed record CorpusCase(string Section, bool IsHit, int Index, string Text, HashSet<string> Expected);

    private sealed class Counts
    {
        public int TruePositives { get; set; }

        public int FalsePositives { get; set; }

        public int FalseNegatives { get; set; }

        // No positives claimed is no false claim; nothing to find is nothing missed.
        public double Precision => TruePositives + FalsePositives == 0 ? 1 : (double)TruePositives / (TruePositives + FalsePositives);

        public double Recall => TruePositives + FalseNegatives == 0 ? 1 : (double)TruePositives / (TruePositives + FalseNegatives);

        public override string ToString() => string.Create(
            CultureInfo.InvariantCulture,
            $"precision {Precision:F3} recall {Recall:F3} (tp {TruePositives}, fp {FalsePositives}, fn {FalseNegatives})");
    }
}
