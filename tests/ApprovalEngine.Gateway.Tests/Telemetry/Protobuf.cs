namespace ApprovalEngine.Gateway.Tests.Telemetry;

/// <summary>
/// Just enough of the protobuf wire format to read OTLP requests in tests: the fields of a message, each with its
/// number and its bytes (length-delimited) or value (varint, fixed).
/// </summary>
internal static class Protobuf
{
    public readonly record struct Field(int Number, int WireType, ulong Value, ReadOnlyMemory<byte> Bytes)
    {
        public string Text => System.Text.Encoding.UTF8.GetString(Bytes.Span);
    }

    public static List<Field> Fields(ReadOnlyMemory<byte> message)
    {
        var fields = new List<Field>();
        var span = message.Span;
        var position = 0;
        while (position < span.Length)
        {
            var key = Varint(span, ref position);
            var number = (int)(key >> 3);
            var wireType = (int)(key & 7);
            switch (wireType)
            {
                case 0:
                    fields.Add(new Field(number, wireType, Varint(span, ref position), default));
                    break;
                case 1:
                    fields.Add(new Field(number, wireType, BitConverter.ToUInt64(span.Slice(position, 8)), message.Slice(position, 8)));
                    position += 8;
                    break;
                case 2:
                    var length = (int)Varint(span, ref position);
                    fields.Add(new Field(number, wireType, 0, message.Slice(position, length)));
                    position += length;
                    break;
                case 5:
                    fields.Add(new Field(number, wireType, BitConverter.ToUInt32(span.Slice(position, 4)), message.Slice(position, 4)));
                    position += 4;
                    break;
                default:
                    throw new FormatException($"wire type {wireType} at byte {position} is not one OTLP uses");
            }
        }

        return fields;
    }

    /// <summary>The embedded messages (or strings) of field <paramref name="number"/>.</summary>
    public static IEnumerable<ReadOnlyMemory<byte>> All(ReadOnlyMemory<byte> message, int number) =>
        Fields(message).Where(field => field.Number == number && field.WireType == 2).Select(field => field.Bytes);

    public static ReadOnlyMemory<byte> One(ReadOnlyMemory<byte> message, int number) => All(message, number).FirstOrDefault();

    private static ulong Varint(ReadOnlySpan<byte> span, ref int position)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var b = span[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }

        throw new FormatException("a varint longer than 10 bytes");
    }
}
