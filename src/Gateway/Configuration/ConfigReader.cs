using System.Globalization;

namespace ApprovalEngine.Gateway.Configuration;

/// <summary>Says what is wrong with a resolved value, without repeating it; null when the value is fine.</summary>
internal delegate string? ValueCheck(string value);

/// <summary>Reads typed values out of the node tree, recording every problem with its position and field path.</summary>
internal sealed class ConfigReader(string file, string baseDirectory, SecretReferences secrets)
{
    public List<ConfigError> Errors { get; } = [];

    public string BaseDirectory { get; } = baseDirectory;

    public static string Join(string parent, string name) => parent.Length == 0 ? name : $"{parent}.{name}";

    public void Error(Position at, string field, string message) => Errors.Add(new ConfigError(file, at.Line, at.Column, field, message));

    /// <summary>
    /// Views <paramref name="node"/> as a mapping whose keys must be among <paramref name="known"/> (any key when
    /// none are given). Null when the node is absent or is not a mapping (reported).
    /// </summary>
    public MappingView? Mapping(YNode? node, string field, Position owner, params string[] known)
    {
        if (node is null or YScalar { IsNull: true })
        {
            return null;
        }

        if (node is not YMapping mapping)
        {
            Error(node.Start, field, $"expected a mapping, found {node.Kind}");
            return null;
        }

        var view = new MappingView(this, field, owner);
        foreach (var (key, value) in mapping.Entries)
        {
            var path = Join(field, key.Value);
            if (known.Length > 0 && !known.Contains(key.Value, StringComparer.Ordinal))
            {
                Error(key.Start, path, FieldNames.Unknown(key.Value, known));
            }
            else if (view.Find(key.Value) is { } first)
            {
                Error(key.Start, path, $"duplicate key \"{key.Value}\" (first defined at line {first.Key.Start.Line})");
            }
            else
            {
                view.Add(key, value);
            }
        }

        return view;
    }

    /// <summary>A string value with its secret references resolved; null when absent or invalid (reported).</summary>
    public string? Text(YNode node, string field, ValueCheck? check = null)
    {
        if (node is not YScalar scalar)
        {
            Error(node.Start, field, $"expected a string, found {node.Kind}");
            return null;
        }

        if (scalar.IsNull)
        {
            return null;
        }

        var value = secrets.Resolve(scalar.Value, out var problem);
        if (value is null)
        {
            Error(scalar.Start, field, problem!);
            return null;
        }

        // Errors show the text as written: a secret reference, never what it resolved to.
        if (check?.Invoke(value) is { } wrong)
        {
            Error(scalar.Start, field, $"{wrong} (got \"{scalar.Value}\")");
            return null;
        }

        return value;
    }

    /// <summary>The valid items of a list of strings, each with its position; empty when absent.</summary>
    public List<(string Value, Position At)> TextList(YNode? node, string field, ValueCheck? check = null)
    {
        var items = new List<(string, Position)>();
        if (node is null or YScalar { IsNull: true })
        {
            return items;
        }

        if (node is not YSequence sequence)
        {
            Error(node.Start, field, $"expected a list, found {node.Kind}");
            return items;
        }

        for (var i = 0; i < sequence.Items.Count; i++)
        {
            var item = sequence.Items[i];
            var path = string.Create(CultureInfo.InvariantCulture, $"{field}[{i}]");
            if (item is YScalar { IsNull: true })
            {
                Error(item.Start, path, "an empty list item");
            }
            else if (Text(item, path, check) is { } value)
            {
                items.Add((value, item.Start));
            }
        }

        return items;
    }

    /// <summary>A mapping of strings to strings (headers, environment variables); empty when absent.</summary>
    public Dictionary<string, string> TextMap(YNode? node, string field, Position owner)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        if (Mapping(node, field, owner) is not { } view)
        {
            return map;
        }

        foreach (var (key, value) in view.Entries)
        {
            if (Text(value, Join(field, key.Value)) is { } text)
            {
                map[key.Value] = text;
            }
        }

        return map;
    }
}

/// <summary>A mapping node whose keys have been checked; typed getters report problems against the field path.</summary>
internal sealed class MappingView(ConfigReader reader, string path, Position owner)
{
    private readonly List<(YScalar Key, YNode Value)> entries = [];

    public ConfigReader Reader => reader;

    public string Field => path;

    /// <summary>Where the mapping is named (its key), where "is required" errors point.</summary>
    public Position Owner => owner;

    public IReadOnlyList<(YScalar Key, YNode Value)> Entries => entries;

    public (YScalar Key, YNode Value)? Find(string name)
    {
        foreach (var entry in entries)
        {
            if (string.Equals(entry.Key.Value, name, StringComparison.Ordinal))
            {
                return entry;
            }
        }

        return null;
    }

    public void Add(YScalar key, YNode value) => entries.Add((key, value));

    public string PathOf(string name) => ConfigReader.Join(path, name);

    /// <summary>The value node, or null when the field is absent or written as null.</summary>
    public YNode? Node(string name) => Find(name) is { } entry && entry.Value is not YScalar { IsNull: true } ? entry.Value : null;

    public bool Has(string name) => Node(name) is not null;

    public Position KeyPosition(string name) => Find(name)?.Key.Start ?? owner;

    public void Missing(string name, string? detail = null) =>
        reader.Error(owner, PathOf(name), detail is null ? "is required" : $"is required {detail}");

    public string? String(string name, bool required = false, ValueCheck? check = null)
    {
        if (Node(name) is not { } node)
        {
            if (required)
            {
                Missing(name);
            }

            return null;
        }

        return reader.Text(node, PathOf(name), check);
    }

    public TimeSpan Duration(string name, TimeSpan fallback)
    {
        var text = String(name, check: value =>
            !Durations.TryParse(value, out var parsed) ? "is not a duration; " + Durations.Help
            : parsed <= TimeSpan.Zero ? "must be greater than zero"
            : null);
        return text is not null && Durations.TryParse(text, out var duration) ? duration : fallback;
    }

    public long Int64(string name, long fallback, long minimum)
    {
        var text = String(name, check: value =>
            !long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) ? "is not a whole number"
            : parsed < minimum ? string.Create(CultureInfo.InvariantCulture, $"must be at least {minimum}")
            : null);
        return text is not null ? long.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture) : fallback;
    }

    public Uri? Url(string name, bool required = false) =>
        String(name, required, Checks.HttpUrl) is { } text ? new Uri(text, UriKind.Absolute) : null;

    /// <summary>The value if it is one of <paramref name="options"/> (case-sensitive).</summary>
    public string? Choice(string name, bool required, params string[] options) =>
        String(name, required, value => options.Contains(value, StringComparer.Ordinal)
            ? null
            : $"must be one of: {string.Join(", ", options)}{FieldNames.Suggestion(value, options)}");

    public List<(string Value, Position At)> List(string name, ValueCheck? check = null) =>
        reader.TextList(Node(name), PathOf(name), check);

    public IReadOnlyList<string> Strings(string name, ValueCheck? check = null) =>
        [.. List(name, check).Select(item => item.Value)];

    public Dictionary<string, string> Map(string name) => reader.TextMap(Node(name), PathOf(name), KeyPosition(name));

    public MappingView? Child(string name, params string[] known) => reader.Mapping(Node(name), PathOf(name), KeyPosition(name), known);
}
