using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;

namespace ApprovalEngine.Gateway.Humans;

/// <summary>
/// Records every refused request to a people's endpoint in <c>human_refusal</c>, for auditors. A failed insert is
/// logged by <see cref="HumanRefusals"/> and the request is refused all the same.
/// </summary>
public sealed class HumanRefusalAudit(NpgsqlDataSource dataSource) : IHumanRefusalObserver
{
    private const string InsertSql = """
        INSERT INTO human_refusal (at, reason, status, method, path, remote_address, email, required_roles, detail)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        """;

    public async ValueTask OnRefusedAsync(HumanRefusal refusal, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(refusal);
        await using var command = dataSource.CreateCommand(InsertSql);
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = refusal.At });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = NameOf(refusal.Reason) });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = refusal.Status });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = refusal.Method });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = refusal.Path });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)refusal.RemoteAddress ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)refusal.Email ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. refusal.RequiredRoles.Select(RoleNames.Of)] });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)refusal.Detail ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });

        // Not the request's token (cancellationToken): a person who hangs up does not erase the record of their refusal.
        await command.ExecuteNonQueryAsync(CancellationToken.None);
    }

    /// <summary>The name a reason has in <c>human_refusal.reason</c> and in exports.</summary>
    public static string NameOf(RefusalReason reason) => reason switch
    {
        RefusalReason.NoToken => "no_token",
        RefusalReason.InvalidToken => "invalid_token",
        RefusalReason.AgentKey => "agent_key",
        RefusalReason.MissingRole => "missing_role",
        RefusalReason.NotPermitted => "not_permitted",
        _ => throw new ArgumentOutOfRangeException(nameof(reason), reason, "not a refusal reason"),
    };
}

public static class HumanRefusalAuditServiceCollectionExtensions
{
    /// <summary>Records refusals in PostgreSQL (needs the gateway's <see cref="NpgsqlDataSource"/>).</summary>
    public static IServiceCollection AddHumanRefusalAudit(this IServiceCollection services)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHumanRefusalObserver, HumanRefusalAudit>());
        return services;
    }
}
