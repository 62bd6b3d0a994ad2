using System.CommandLine;
using System.Text;

namespace ApprovalEngine.Cli;

/// <summary>
/// <c>export</c>: the gateway's NDJSON audit export, streamed through in fixed-size chunks to a file or standard
/// output, so an export of any size takes the same memory. A file is written beside its final name and renamed
/// once complete, so an interrupted export never looks like a finished one.
/// </summary>
internal static class AuditExport
{
    private const int ChunkSize = 64 * 1024;

    public static Command Build(CliContext context)
    {
        var from = new Option<string?>("--from") { Description = "First instant included (ISO 8601)" };
        var to = new Option<string?>("--to") { Description = "Instant where the range ends, excluded" };
        var kinds = new Option<string?>("--kinds") { Description = "Comma-separated: tool_call, workflow_event, refusal (default: all)" };
        var output = new Option<string?>("--output", "-o") { Description = "Write to this file instead of standard output", HelpName = "file" };
        var command = new Command("export", "Export audit events as NDJSON (one JSON object per line)") { from, to, kinds, output };
        command.SetRun(context, async (result, cancellationToken) =>
        {
            var path = Inputs.Query("api/audit/export",
                ("from", Inputs.Instant(result.GetValue(from), "--from")), ("to", Inputs.Instant(result.GetValue(to), "--to")), ("kinds", result.GetValue(kinds)));
            using var client = context.Connect();
            using var response = await client.GetStreamAsync(path, cancellationToken);
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            if (result.GetValue(output) is not { } file)
            {
                await CopyAsync(client, body, context.Out, cancellationToken);
                return ExitCodes.Ok;
            }

            var lines = await ToFileAsync(client, body, file, cancellationToken);
            await context.Error.WriteLineAsync($"Exported {lines} events to {file}.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static async Task CopyAsync(GatewayClient client, Stream body, TextWriter writer, CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(body, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, ChunkSize);
        var buffer = new char[ChunkSize];
        try
        {
            int read;
            while ((read = await reader.ReadAsync(buffer, cancellationToken)) > 0)
            {
                await writer.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            }
        }
        catch (IOException e)
        {
            throw client.Interrupted(e);
        }

        await writer.FlushAsync(cancellationToken);
    }

    private static async Task<long> ToFileAsync(GatewayClient client, Stream body, string file, CancellationToken cancellationToken)
    {
        var partial = file + ".partial";
        long lines = 0;
        var complete = false;
        try
        {
            await using (var target = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, ChunkSize, useAsync: true))
            {
                var buffer = new byte[ChunkSize];
                int read;
                while ((read = await ReadAsync(client, body, buffer, cancellationToken)) > 0)
                {
                    lines += buffer.AsSpan(0, read).Count((byte)'\n');
                    await target.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                }
            }

            File.Move(partial, file, overwrite: true);
            complete = true;
            return lines;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliFailure(ExitCodes.Usage, $"Cannot write {file}: {e.Message}", e);
        }
        finally
        {
            if (!complete && File.Exists(partial))
            {
                File.Delete(partial);
            }
        }
    }

    /// <summary>A read from the network; its failures are the connection's, not the file's.</summary>
    private static async Task<int> ReadAsync(GatewayClient client, Stream body, byte[] buffer, CancellationToken cancellationToken)
    {
        try
        {
            return await body.ReadAsync(buffer, cancellationToken);
        }
        catch (IOException e)
        {
            throw client.Interrupted(e);
        }
    }
}
