using Npgsql;

namespace ApprovalEngine.Workflows.Tests.Runtime;

/// <summary>Small SQL helpers for assertions.</summary>
internal static class Db
{
    public static async Task<T> ScalarAsync<T>(string connectionString, string sql, params object[] args)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, connection);
        foreach (var arg in args)
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = arg });
        }

        return (T)(await cmd.ExecuteScalarAsync())!;
    }

    public static async Task ExecuteAsync(string connectionString, string sql, params object[] args)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, connection);
        foreach (var arg in args)
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = arg });
        }

        await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>Row counts that a refused or failed transition must leave unchanged.</summary>
    public static async Task<(long Events, long Signals, long Tasks, int Version)> FootprintAsync(string connectionString, Guid id) =>
        (await ScalarAsync<long>(connectionString, "SELECT count(*) FROM wf_event WHERE wf_id = $1", id),
         await ScalarAsync<long>(connectionString, "SELECT count(*) FROM wf_signal WHERE wf_id = $1", id),
         await ScalarAsync<long>(connectionString, "SELECT count(*) FROM wf_task WHERE wf_id = $1", id),
         await ScalarAsync<int>(connectionString, "SELECT version FROM wf_instance WHERE id = $1", id));

    /// <summary>Poll until <paramref name="condition"/> holds, failing after <paramref name="timeout"/>.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out after {timeout} waiting until {what}.");
            }

            await Task.Delay(20);
        }
    }
}
