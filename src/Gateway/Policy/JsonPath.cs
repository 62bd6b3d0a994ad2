using System.Globalization;
using System.Text.Json;

namespace ApprovalEngine.Gateway.Policy;

/// <summary>
/// A path into a tool call's arguments: <c>$.payment.amount</c>, <c>$.items[0].sku</c>, <c>$['odd key']</c>, and the
/// wildcards <c>[*]</c> and <c>.*</c> (every element or member). The leading <c>$</c> is optional. With a wildcard a path
/// selects several values, and a condition holds when it holds for any of them.
/// </summary>
public sealed class JsonPath
{
    private readonly Segment[] segments;

    private JsonPath(string text, Segment[] segments)
    {
        Text = text;
        this.segments = segments;
        HasWildcard = segments.Any(s => s.Wildcard);
    }

    public string Text { get; }

    public bool HasWildcard { get; }

    public override string ToString() => Text;

    /// <summary>Parses <paramref name="text"/>; on failure <paramref name="error"/> says what is wrong and where.</summary>
    public static bool TryParse(string text, out JsonPath? path, out string? error)
    {
        path = null;
        var parsed = new List<Segment>();
        var i = text.StartsWith('$') ? 1 : 0;
        if (i == 0 && text.Length > 0 && text[0] is not ('.' or '['))
        {
            text = "$." + text;
            i = 1;
        }

        while (i < text.Length)
        {
            if (text[i] == '.')
            {
                var start = ++i;
                if (i < text.Length && text[i] == '*')
                {
                    parsed.Add(Segment.Any);
                    i++;
                    continue;
                }

                while (i < text.Length && text[i] is not ('.' or '['))
                {
                    i++;
                }

                if (i == start)
                {
                    error = string.Create(CultureInfo.InvariantCulture, $"an empty member name at character {start + 1}");
                    return false;
                }

                parsed.Add(Segment.Member(text[start..i]));
            }
            else if (text[i] == '[')
            {
                var close = text.IndexOf(']', i);
                if (close < 0)
                {
                    error = string.Create(CultureInfo.InvariantCulture, $"a '[' at character {i + 1} is not closed");
                    return false;
                }

                var inside = text[(i + 1)..close];
                if (inside == "*")
                {
                    parsed.Add(Segment.Any);
                }
                else if (inside.Length >= 2 && inside[0] is '\'' or '"' && inside[^1] == inside[0])
                {
                    parsed.Add(Segment.Member(inside[1..^1]));
                }
                else if (int.TryParse(inside, NumberStyles.None, CultureInfo.InvariantCulture, out var index))
                {
                    parsed.Add(Segment.Element(index));
                }
                else
                {
                    error = $"[{inside}] is not an index, a quoted name or *";
                    return false;
                }

                i = close + 1;
            }
            else
            {
                error = string.Create(CultureInfo.InvariantCulture, $"unexpected '{text[i]}' at character {i + 1}; write $.name, $.list[0] or $['name']");
                return false;
            }
        }

        if (parsed.Count == 0)
        {
            error = "the path selects the arguments object itself; name an argument, e.g. $.amount";
            return false;
        }

        path = new JsonPath(text, [.. parsed]);
        error = null;
        return true;
    }

    /// <summary>Adds every value the path selects to <paramref name="values"/>; nothing when the path leads nowhere.</summary>
    public void Select(IDictionary<string, JsonElement>? arguments, List<JsonElement> values)
    {
        if (arguments is null)
        {
            return;
        }

        var first = segments[0];
        if (first.Wildcard)
        {
            foreach (var value in arguments.Values)
            {
                Walk(value, 1, values);
            }
        }
        else if (first.Name is not null && arguments.TryGetValue(first.Name, out var value))
        {
            Walk(value, 1, values);
        }
    }

    private void Walk(JsonElement current, int next, List<JsonElement> values)
    {
        if (next == segments.Length)
        {
            values.Add(current);
            return;
        }

        var segment = segments[next];
        switch (current.ValueKind)
        {
            case JsonValueKind.Object when segment.Wildcard:
                foreach (var member in current.EnumerateObject())
                {
                    Walk(member.Value, next + 1, values);
                }

                break;
            case JsonValueKind.Object when segment.Name is not null:
                if (current.TryGetProperty(segment.Name, out var child))
                {
                    Walk(child, next + 1, values);
                }

                break;
            case JsonValueKind.Array when segment.Wildcard:
                foreach (var item in current.EnumerateArray())
                {
                    Walk(item, next + 1, values);
                }

                break;
            case JsonValueKind.Array when segment.Index >= 0 && segment.Index < current.GetArrayLength():
                Walk(current[segment.Index], next + 1, values);
                break;
        }
    }

    private readonly record struct Segment(string? Name, int Index, bool Wildcard)
    {
        public static readonly Segment Any = new(null, -1, true);

        public static Segment Member(string name) => new(name, -1, false);

        public static Segment Element(int index) => new(null, index, false);
    }
}
