using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace ApprovalEngine.Workflows.Storage;

/// <summary>
/// Applies the embedded <c>Migrations/NNNN_name.sql</c> scripts in version order, each in its own transaction
/// together with its <c>ae_schema_migrations</c> row. Nodes starting together serialize on an advisory lock.
/// </summary>
public static partial class SchemaMigrator
{
    private const string ResourcePrefix = "Migrations/";

    // Every node must use the same key, and nothing else in the database may use it.
    private const long LockKey = 0x0AE5_C4E3_A000_0001;

    private const string CreateHistoryTable = """
        CREATE TABLE IF NOT EXISTS ae_schema_migrations (
            version     int PRIMARY KEY,
            name        text NOT NULL,
            checksum    text NOT NULL,
            applied_at  timestamptz NOT NULL DEFAULT now()
        )
        """;

    private static readonly Lazy<IReadOnlyList<Migration>> Embedded = new(LoadEmbedded);

    /// <summary>Brings the schema up to date; returns how many migrations this call applied (0 when current).</summary>
    public static Task<int> MigrateAsync(NpgsqlDataSource dataSource, ILogger? logger = null, CancellationToken ct = default) =>
        MigrateAsync(dataSource, Embedded.Value, logger, ct);

    internal static async Task<int> MigrateAsync(
        NpgsqlDataSource dataSource, IReadOnlyList<Migration> migrations, ILogger? logger, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        logger ??= NullLogger.Instance;

        // The lock is per session, so everything below runs on this one connection.
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await ExecuteAsync(connection, $"SELECT pg_advisory_lock({LockKey})", ct);
        try
        {
            await ExecuteAsync(connection, CreateHistoryTable, ct);
            var applied = await ReadAppliedAsync(connection, ct);
            var count = 0;
            foreach (var migration in migrations.OrderBy(m => m.Version))
            {
                if (applied.TryGetValue(migration.Version, out var checksum))
                {
                    if (!string.Equals(checksum, migration.Checksum, StringComparison.OrdinalIgnoreCase))
                    {
                        throw new InvalidOperationException(
                            $"Migration {migration.ResourceName} was changed after it was applied (checksum {checksum} in " +
                            $"ae_schema_migrations, {migration.Checksum} embedded). Restore the file and add a new migration instead.");
                    }

                    continue;
                }

                await ApplyAsync(connection, migration, logger, ct);
                count++;
            }

            logger.SchemaCurrent(migrations.Count == 0 ? 0 : migrations.Max(m => m.Version), count);
            return count;
        }
        finally
        {
            await UnlockAsync(connection);
        }
    }

    internal static Migration Parse(string resourceName, string sql)
    {
        var fileName = resourceName.StartsWith(ResourcePrefix, StringComparison.Ordinal) ? resourceName[ResourcePrefix.Length..] : resourceName;
        var separator = fileName.IndexOf('_', StringComparison.Ordinal);
        if (separator <= 0 || !fileName.EndsWith(".sql", StringComparison.Ordinal)
            || !int.TryParse(fileName.AsSpan(0, separator), NumberStyles.None, CultureInfo.InvariantCulture, out var version))
        {
            throw new InvalidOperationException($"Migration {resourceName} must be named NNNN_name.sql.");
        }

        // Line endings depend on the checkout (git autocrlf), not on the migration: hash one form.
        var normalized = sql.ReplaceLineEndings("\n");
        var checksum = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(normalized)));
        return new Migration(version, fileName[(separator + 1)..^".sql".Length], resourceName, normalized, checksum);
    }

    private static List<Migration> LoadEmbedded()
    {
        var assembly = typeof(SchemaMigrator).Assembly;
        var migrations = new List<Migration>();
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream, Encoding.UTF8);
            migrations.Add(Parse(name, reader.ReadToEnd()));
        }

        var duplicate = migrations.GroupBy(m => m.Version).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new InvalidOperationException(
                $"Migrations {string.Join(" and ", duplicate.Select(m => m.ResourceName))} share version {duplicate.Key}.");
        }

        return migrations;
    }

    private static async Task ApplyAsync(NpgsqlConnection connection, Migration migration, ILogger logger, CancellationToken ct)
    {
        logger.Applying(migration.ResourceName);
        var clock = Stopwatch.StartNew();
        await using var transaction = await connection.BeginTransactionAsync(ct);

        // One command per statement: PostgreSQL reports an error position within the statement, and
        // knowing which statement failed turns that into a line and column of the file.
        foreach (var statement in SqlScript.Split(migration.Sql))
        {
            try
            {
                // No timeout: a migration may legitimately rewrite a large table; ct still cancels it.
                await using var command = new NpgsqlCommand(statement.Text, connection, transaction) { CommandTimeout = 0 };
                await command.ExecuteNonQueryAsync(ct);
            }
            catch (PostgresException e)
            {
                var (line, column) = SqlScript.LineAndColumn(migration.Sql, statement.Offset + Math.Max(e.Position, 1) - 1);
                var where = e.Position > 0 ? $"line {line}, column {column}" : $"the statement at line {line}";
                throw new InvalidOperationException(
                    $"Migration {migration.ResourceName} failed at {where}: {e.SqlState}: {e.MessageText}" +
                    (e.Detail is null ? "" : $" ({e.Detail})") + ". Nothing of it was applied.", e);
            }
        }

        await using var record = new NpgsqlCommand(
            "INSERT INTO ae_schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", connection, transaction);
        record.Parameters.Add(new NpgsqlParameter { Value = migration.Version });
        record.Parameters.Add(new NpgsqlParameter { Value = migration.Name });
        record.Parameters.Add(new NpgsqlParameter { Value = migration.Checksum });
        await record.ExecuteNonQueryAsync(ct);
        await transaction.CommitAsync(ct);
        logger.Applied(migration.ResourceName, clock.Elapsed.TotalMilliseconds);
    }

    private static async Task<Dictionary<int, string>> ReadAppliedAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        var applied = new Dictionary<int, string>();
        await using var command = new NpgsqlCommand("SELECT version, checksum FROM ae_schema_migrations", connection);
        await using var reader = await command.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            applied[reader.GetInt32(0)] = reader.GetString(1);
        }

        return applied;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken ct)
    {
        // Waiting for another node's migrations is not a timeout.
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
        await command.ExecuteNonQueryAsync(ct);
    }

    private static async Task UnlockAsync(NpgsqlConnection connection)
    {
        try
        {
            await ExecuteAsync(connection, $"SELECT pg_advisory_unlock({LockKey})", CancellationToken.None);
        }
        catch (NpgsqlException)
        {
            // A broken connection ends its session, and the session's locks with it. Pooled connections skip the
            // reset on return, so make sure this one is dropped rather than reused while it might hold the lock.
            NpgsqlConnection.ClearPool(connection);
        }
    }

    [LoggerMessage(EventId = 1010, Level = LogLevel.Information, Message = "Applying migration {Migration}")]
    private static partial void Applying(this ILogger logger, string migration);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Information, Message = "Applied migration {Migration} in {ElapsedMs:0} ms")]
    private static partial void Applied(this ILogger logger, string migration, double elapsedMs);

    [LoggerMessage(EventId = 1012, Level = LogLevel.Information, Message = "Database schema is at version {Version} ({Applied} migrations applied now)")]
    private static partial void SchemaCurrent(this ILogger logger, int version, int applied);

    /// <summary>One migration script: its version, name, text and SHA-256 (hex) of the text.</summary>
    internal sealed record Migration(int Version, string Name, string ResourceName, string Sql, string Checksum);

    /// <summary>
    /// Splits a script at top-level semicolons, skipping those inside quotes, dollar quotes and comments
    /// (the same scope as Npgsql's own splitting; SQL-standard BEGIN ATOMIC bodies are not supported).
    /// </summary>
    internal static class SqlScript
    {
        internal static List<Statement> Split(string sql)
        {
            var statements = new List<Statement>();
            var start = 0;
            var significant = false;
            var i = 0;
            while (i < sql.Length)
            {
                var c = sql[i];
                var next = i + 1 < sql.Length ? sql[i + 1] : '\0';
                if (c == '-' && next == '-')
                {
                    var end = sql.IndexOf('\n', i);
                    i = end < 0 ? sql.Length : end;
                    continue;
                }

                if (c == '/' && next == '*')
                {
                    i = SkipBlockComment(sql, i);
                    continue;
                }

                if (c == ';')
                {
                    if (significant)
                    {
                        statements.Add(new Statement(start, sql[start..i]));
                    }

                    start = i + 1;
                    significant = false;
                    i++;
                    continue;
                }

                significant |= !char.IsWhiteSpace(c);
                i = c switch
                {
                    '\'' => SkipQuoted(sql, i, '\'', backslashEscapes: i > 0 && sql[i - 1] is 'E' or 'e' && !IsIdentifierChar(sql, i - 2)),
                    '"' => SkipQuoted(sql, i, '"', backslashEscapes: false),
                    '$' when DollarTag(sql, i) is { } tag => SkipDollarQuoted(sql, i, tag),
                    _ => i + 1,
                };
            }

            if (significant)
            {
                statements.Add(new Statement(start, sql[start..]));
            }

            return statements;
        }

        internal static (int Line, int Column) LineAndColumn(string text, int offset)
        {
            var before = text.AsSpan(0, Math.Clamp(offset, 0, text.Length));
            return (before.Count('\n') + 1, before.Length - (before.LastIndexOf('\n') + 1) + 1);
        }

        private static int SkipQuoted(string sql, int open, char quote, bool backslashEscapes)
        {
            for (var i = open + 1; i < sql.Length; i++)
            {
                if (backslashEscapes && sql[i] == '\\')
                {
                    i++;
                }
                else if (sql[i] == quote)
                {
                    // A doubled quote is an escaped quote, not the end.
                    if (i + 1 < sql.Length && sql[i + 1] == quote)
                    {
                        i++;
                    }
                    else
                    {
                        return i + 1;
                    }
                }
            }

            return sql.Length;
        }

        private static int SkipBlockComment(string sql, int open)
        {
            // PostgreSQL block comments nest.
            var depth = 0;
            for (var i = open; i + 1 < sql.Length; i++)
            {
                if (sql[i] == '/' && sql[i + 1] == '*')
                {
                    depth++;
                    i++;
                }
                else if (sql[i] == '*' && sql[i + 1] == '/')
                {
                    i++;
                    if (--depth == 0)
                    {
                        return i + 1;
                    }
                }
            }

            return sql.Length;
        }

        /// <summary>The tag ("$$" or "$name$") opening a dollar quote at <paramref name="i"/>, or null ($1, a$b).</summary>
        private static string? DollarTag(string sql, int i)
        {
            if (IsIdentifierChar(sql, i - 1))
            {
                return null;
            }

            var end = i + 1;
            while (end < sql.Length && (char.IsLetter(sql[end]) || sql[end] == '_' || (end > i + 1 && char.IsAsciiDigit(sql[end]))))
            {
                end++;
            }

            return end < sql.Length && sql[end] == '$' ? sql[i..(end + 1)] : null;
        }

        private static int SkipDollarQuoted(string sql, int open, string tag)
        {
            var close = sql.IndexOf(tag, open + tag.Length, StringComparison.Ordinal);
            return close < 0 ? sql.Length : close + tag.Length;
        }

        private static bool IsIdentifierChar(string sql, int i) =>
            i >= 0 && i < sql.Length && (char.IsLetterOrDigit(sql[i]) || sql[i] is '_' or '$');

        /// <summary>One statement: its text and where it starts in the script.</summary>
        internal readonly record struct Statement(int Offset, string Text);
    }
}
