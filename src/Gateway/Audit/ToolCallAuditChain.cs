using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace ApprovalEngine.Gateway.Audit;

/// <summary>
/// The hash rule of the audit chain streams; the writer and the verifier share it, so it is the one place to read it.
/// </summary>
/// <remarks>
/// <c>hash = SHA-256(prev_hash ‖ stream_id ‖ seq ‖ id ‖ at ‖ duration ‖ agent_id ‖ bundle ‖ upstream ‖ tool ‖ tool_name ‖
/// arguments_digest ‖ arguments ‖ decision ‖ rule ‖ outcome ‖ error ‖ session_id ‖ request_id)</c>, where uuids are their
/// 16 big-endian (RFC 4122) bytes, <c>seq</c> is 8 bytes big-endian, <c>at</c> and <c>duration</c> are microseconds (Unix
/// epoch for <c>at</c>) as 8 bytes big-endian, and each text is <c>0x00</c> when null, else <c>0x01</c>, its UTF-8 length
/// as 4 bytes big-endian, and its UTF-8 bytes. Length prefixes keep field boundaries unambiguous: moving text from one
/// field to its neighbour changes the hash. When a shadow decision, a shadow rule, an approval id or an executed
/// arguments digest is set, <c>0x02 ‖ shadow_decision ‖ shadow_rule ‖ approval_id ‖ executed_arguments_digest</c> follows
/// (texts as above, the uuid in its "D" text form); records without any of them hash as they did before those columns existed. The first
/// record's <c>prev_hash</c> is <c>SHA-256(stream_id)</c>.
/// </remarks>
internal static class ToolCallAuditChain
{
    public const int HashLength = 32;

    public static byte[] Genesis(Guid streamId)
    {
        Span<byte> id = stackalloc byte[16];
        streamId.TryWriteBytes(id, bigEndian: true, out _);
        return SHA256.HashData(id);
    }

    public static byte[] ComputeHash(ReadOnlySpan<byte> prevHash, Guid streamId, long seq, Guid id, ToolCallRecord record)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(prevHash);
        Span<byte> fixedPart = stackalloc byte[16 + 8 + 16 + 8 + 8];
        streamId.TryWriteBytes(fixedPart, bigEndian: true, out _);
        BinaryPrimitives.WriteInt64BigEndian(fixedPart[16..], seq);
        id.TryWriteBytes(fixedPart[24..], bigEndian: true, out _);
        BinaryPrimitives.WriteInt64BigEndian(fixedPart[40..], ToMicroseconds(record.StartedAt));
        BinaryPrimitives.WriteInt64BigEndian(fixedPart[48..], record.Duration.Ticks / TimeSpan.TicksPerMicrosecond);
        hash.AppendData(fixedPart);
        AppendText(hash, record.AgentId);
        AppendText(hash, record.Bundle);
        AppendText(hash, record.Upstream);
        AppendText(hash, record.Tool);
        AppendText(hash, record.ToolName);
        AppendText(hash, record.ArgumentsDigest);
        AppendText(hash, record.RedactedArguments);
        AppendText(hash, record.Decision);
        AppendText(hash, record.Rule);
        AppendText(hash, record.Outcome);
        AppendText(hash, record.Error);
        AppendText(hash, record.SessionId);
        AppendText(hash, record.RequestId);
        if (record.ShadowDecision is not null || record.ShadowRule is not null || record.ApprovalId is not null || record.ExecutedArgumentsDigest is not null)
        {
            hash.AppendData([2]);
            AppendText(hash, record.ShadowDecision);
            AppendText(hash, record.ShadowRule);
            AppendText(hash, record.ApprovalId?.ToString("D"));
            AppendText(hash, record.ExecutedArgumentsDigest);
        }

        return hash.GetHashAndReset();
    }

    /// <summary>Microseconds since the Unix epoch: what timestamptz stores, so the value read back hashes the same.</summary>
    public static long ToMicroseconds(DateTimeOffset instant) =>
        (instant.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / TimeSpan.TicksPerMicrosecond;

    private static void AppendText(IncrementalHash hash, string? text)
    {
        if (text is null)
        {
            hash.AppendData([0]);
            return;
        }

        var length = Encoding.UTF8.GetByteCount(text);
        var buffer = ArrayPool<byte>.Shared.Rent(5 + length);
        try
        {
            buffer[0] = 1;
            BinaryPrimitives.WriteInt32BigEndian(buffer.AsSpan(1), length);
            Encoding.UTF8.GetBytes(text, buffer.AsSpan(5));
            hash.AppendData(buffer, 0, 5 + length);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
