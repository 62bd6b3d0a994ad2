using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace ApprovalEngine.Gateway.Configuration;

internal readonly record struct Position(int Line, int Column)
{
    public static readonly Position FileStart = new(1, 1);
}

internal abstract class YNode(Position start)
{
    public Position Start { get; } = start;

    public abstract string Kind { get; }
}

internal sealed class YScalar(Position start, string value, bool isNull, bool isPlain = true) : YNode(start)
{
    public string Value { get; } = value;

    /// <summary>Written without quotes: <c>5</c> and <c>true</c> are then a number and a boolean, <c>"5"</c> is a string.</summary>
    public bool IsPlain { get; } = isPlain;

    /// <summary>A plain <c>~</c>, <c>null</c> or nothing at all: the field is treated as absent.</summary>
    public bool IsNull { get; } = isNull;

    public override string Kind => IsNull ? "nothing" : "a string";
}

internal sealed class YMapping(Position start) : YNode(start)
{
    /// <summary>Entries in file order, duplicates kept so that the mappers can report them.</summary>
    public List<(YScalar Key, YNode Value)> Entries { get; } = [];

    public override string Kind => "a mapping";
}

internal sealed class YSequence(Position start) : YNode(start)
{
    public List<YNode> Items { get; } = [];

    public override string Kind => "a list";
}

/// <summary>
/// Builds a node tree from YamlDotNet's parser events. YamlDotNet's representation model would give the same
/// positions, but it throws at the first duplicate key, and we report every duplicate with all other errors.
/// </summary>
internal sealed class YamlTree
{
    private readonly Parser parser;
    private readonly Action<Position, string> error;
    private readonly Dictionary<string, YNode> anchors = new(StringComparer.Ordinal);
    private Position last = Position.FileStart;

    private YamlTree(TextReader reader, Action<Position, string> error)
    {
        parser = new Parser(reader);
        this.error = error;
    }

    /// <summary>The document's root node, or null when the file is empty or not valid YAML (reported through <paramref name="error"/>).</summary>
    public static YNode? Parse(TextReader reader, Action<Position, string> error) => new YamlTree(reader, error).ParseStream();

    private static Position At(Mark mark) => new((int)mark.Line, (int)mark.Column);

    private YNode? ParseStream()
    {
        try
        {
            Next(); // StreamStart
            if (!Next() || parser.Current is StreamEnd)
            {
                return null;
            }

            Next(); // DocumentStart
            var root = ReadNode();
            Next(); // DocumentEnd
            if (parser.Current is DocumentStart extra)
            {
                error(At(extra.Start), "the file must hold a single YAML document");
            }

            return root;
        }
        catch (YamlException e)
        {
            error(At(e.Start), "YAML syntax error: " + e.Message);
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet throws this without a position on some malformed input, e.g. an unterminated [ list.
            error(last, "YAML syntax error after this position (an unterminated [ ] or { } collection?)");
        }

        return null;
    }

    private bool Next()
    {
        var moved = parser.MoveNext();
        if (parser.Current is { } current)
        {
            last = At(current.Start);
        }

        return moved;
    }

    private YNode ReadNode()
    {
        var current = parser.Current ?? throw new InvalidOperationException("Unexpected end of the YAML stream.");
        var start = At(current.Start);
        Next();
        switch (current)
        {
            case AnchorAlias alias:
                if (anchors.TryGetValue(alias.Value.Value, out var target))
                {
                    return target;
                }

                error(start, $"unknown YAML anchor *{alias.Value.Value}");
                return new YScalar(start, string.Empty, isNull: true);

            case Scalar scalar:
                var isNull = scalar.Style == ScalarStyle.Plain && scalar.Value is "" or "~" or "null" or "Null" or "NULL";
                return Anchor(scalar, new YScalar(start, scalar.Value, isNull, scalar.Style == ScalarStyle.Plain));

            case SequenceStart:
                var sequence = new YSequence(start);
                while (parser.Current is not SequenceEnd)
                {
                    sequence.Items.Add(ReadNode());
                }

                Next();
                return Anchor(current, sequence);

            case MappingStart:
                var mapping = new YMapping(start);
                while (parser.Current is not MappingEnd)
                {
                    var key = ReadNode();
                    var value = ReadNode();
                    if (key is YScalar { IsNull: false } name)
                    {
                        mapping.Entries.Add((name, value));
                    }
                    else
                    {
                        error(key.Start, $"a key must be a plain string, not {key.Kind}");
                    }
                }

                Next();
                return Anchor(current, mapping);

            default:
                throw new InvalidOperationException($"Unexpected YAML event {current.GetType().Name}.");
        }
    }

    private YNode Anchor(ParsingEvent source, YNode node)
    {
        if (source is NodeEvent { Anchor.IsEmpty: false } named)
        {
            anchors[named.Anchor.Value] = node;
        }

        return node;
    }
}
