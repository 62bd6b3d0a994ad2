using System.Collections.Frozen;
using System.Text;
using System.Text.Json;

namespace ApprovalEngine.Gateway.Policy;

/// <summary>
/// An immutable, thread-safe set of detectors. Overlapping hits are resolved so that every character is reported by at
/// most one detector: a generic detector (<c>secrets.high_entropy</c>, <c>pii.phone</c>) yields to any specific one
/// it overlaps; otherwise the earlier hit wins, then the longer, then the detector listed first in
/// <see cref="Detectors.Names"/>.
/// </summary>
public sealed class DetectorSet
{
    private static readonly FrozenSet<string> NothingFound = FrozenSet<string>.Empty;

    private readonly Detector[] _detectors;
    private readonly FrozenDictionary<string, int> _rank;

    private DetectorSet(Detector[] detectors)
    {
        _detectors = detectors;
        _rank = detectors.Select((d, i) => (d.Name, i)).ToFrozenDictionary(p => p.Name, p => p.i, StringComparer.Ordinal);
        Names = Array.AsReadOnly(detectors.Select(d => d.Name).ToArray());
    }

    public static DetectorSet All { get; } = new(Detectors.InRankOrder.ToArray());

    /// <summary>A set of the named detectors (duplicates ignored); categories are not names: expand them first.</summary>
    /// <exception cref="ArgumentException">A name is not a detector's; the message names it.</exception>
    public static DetectorSet Create(IEnumerable<string> detectorNames)
    {
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in detectorNames)
        {
            if (!Detectors.ByName.ContainsKey(name))
            {
                throw new ArgumentException(
                    $"Unknown detector '{name}'. Known detectors: {string.Join(", ", Detectors.Names)}.", nameof(detectorNames));
            }

            wanted.Add(name);
        }

        return new(Detectors.InRankOrder.Where(d => wanted.Contains(d.Name)).ToArray());
    }

    /// <summary>The detectors of the set, in rank order.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Appends the findings in <paramref name="text"/>, ordered by start and not overlapping.</summary>
    /// <exception cref="System.Text.RegularExpressions.RegexMatchTimeoutException">A pattern ran out of time; fail closed.</exception>
    public void Scan(string text, List<Finding> findings)
    {
        if (text.Length == 0 || _detectors.Length == 0)
        {
            return;
        }

        var specific = new List<Finding>();
        var generic = new List<Finding>();
        foreach (var detector in _detectors)
        {
            detector.FindCandidates(text, detector.Generic ? generic : specific);
        }

        var kept = Resolve(specific, []);
        var yielded = Resolve(generic, kept);
        if (yielded.Count > 0)
        {
            kept.AddRange(yielded);
            kept.Sort(static (a, b) => a.Start.CompareTo(b.Start));
        }

        findings.AddRange(kept);
    }

    /// <summary>The distinct detector names found in the string values of a JSON value, at any depth (not in property names).</summary>
    public IReadOnlySet<string> FindIn(JsonElement value)
    {
        HashSet<string>? found = null;
        var findings = new List<Finding>();
        var pending = new Stack<JsonElement>();
        pending.Push(value);
        while (pending.Count > 0)
        {
            var current = pending.Pop();
            switch (current.ValueKind)
            {
                case JsonValueKind.String:
                    findings.Clear();
                    Scan(current.GetString()!, findings);
                    foreach (var finding in findings)
                    {
                        (found ??= new HashSet<string>(StringComparer.Ordinal)).Add(finding.Detector);
                    }

                    break;
                case JsonValueKind.Array:
                    foreach (var item in current.EnumerateArray())
                    {
                        pending.Push(item);
                    }

                    break;
                case JsonValueKind.Object:
                    foreach (var property in current.EnumerateObject())
                    {
                        pending.Push(property.Value);
                    }

                    break;
            }
        }

        return found ?? (IReadOnlySet<string>)NothingFound;
    }

    /// <summary>The distinct detector names found in the values of a tool call's argument map.</summary>
    public IReadOnlySet<string> FindIn(IDictionary<string, JsonElement>? arguments)
    {
        if (arguments is null || arguments.Count == 0)
        {
            return NothingFound;
        }

        var found = new HashSet<string>(StringComparer.Ordinal);
        foreach (var value in arguments.Values)
        {
            found.UnionWith(FindIn(value));
        }

        return found.Count == 0 ? NothingFound : found;
    }

    /// <summary>
    /// <paramref name="text"/> with each finding replaced by <c>[redacted:&lt;detector&gt;]</c>; <paramref name="found"/>
    /// receives the detector names. The same instance comes back when nothing was found.
    /// </summary>
    public string Redact(string text, ISet<string> found)
    {
        var findings = new List<Finding>();
        Scan(text, findings);
        if (findings.Count == 0)
        {
            return text;
        }

        var builder = new StringBuilder(text.Length);
        var copied = 0;
        foreach (var finding in findings)
        {
            builder.Append(text, copied, finding.Start - copied).Append("[redacted:").Append(finding.Detector).Append(']');
            copied = finding.Start + finding.Length;
            found.Add(finding.Detector);
        }

        return builder.Append(text, copied, text.Length - copied).ToString();
    }

    /// <summary>
    /// The candidates that survive, in start order: each is dropped when it overlaps one in <paramref name="stronger"/>
    /// or one kept before it (earlier start, then longer, then lower rank first).
    /// </summary>
    private List<Finding> Resolve(List<Finding> candidates, List<Finding> stronger)
    {
        candidates.Sort((a, b) =>
        {
            var byStart = a.Start.CompareTo(b.Start);
            if (byStart != 0)
            {
                return byStart;
            }

            var byLength = b.Length.CompareTo(a.Length);
            return byLength != 0 ? byLength : _rank[a.Detector].CompareTo(_rank[b.Detector]);
        });

        var kept = new List<Finding>(candidates.Count);
        var reachedBy = 0;
        foreach (var candidate in candidates)
        {
            if (candidate.Length == 0 || candidate.Start < reachedBy || Overlaps(stronger, candidate))
            {
                continue;
            }

            kept.Add(candidate);
            reachedBy = candidate.Start + candidate.Length;
        }

        return kept;
    }

    /// <summary>Whether a finding overlaps any of <paramref name="sorted"/> (disjoint, in start order).</summary>
    private static bool Overlaps(List<Finding> sorted, Finding finding)
    {
        // The last one starting before the finding ends is the only one that can reach into it.
        int low = 0, high = sorted.Count - 1, last = -1;
        var end = finding.Start + finding.Length;
        while (low <= high)
        {
            var middle = (low + high) / 2;
            if (sorted[middle].Start < end)
            {
                last = middle;
                low = middle + 1;
            }
            else
            {
                high = middle - 1;
            }
        }

        return last >= 0 && sorted[last].Start + sorted[last].Length > finding.Start;
    }
}
