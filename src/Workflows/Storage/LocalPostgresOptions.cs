namespace ApprovalEngine.Workflows.Storage;

/// <summary>How to run a local PostgreSQL cluster from the server binaries on this machine.</summary>
public sealed record LocalPostgresOptions
{
    /// <summary>
    /// Where the cluster lives. Null: a new temporary directory, deleted on dispose. A given directory is
    /// kept; if it already holds a cluster (has PG_VERSION) that cluster is reused with its data.
    /// </summary>
    public string? DataDirectory { get; init; }

    /// <summary>The 127.0.0.1 port to listen on; 0 picks a free one (and picks again if it is taken meanwhile).</summary>
    public int Port { get; init; }

    /// <summary>The database <see cref="LocalPostgres.ConnectionString"/> points to; created if missing.</summary>
    public string Database { get; init; } = "approval_engine";

    /// <summary>False trades crash safety for speed (fsync, synchronous_commit and full_page_writes off): tests only.</summary>
    public bool Fsync { get; init; } = true;

    /// <summary>
    /// The directory holding initdb and postgres. When set it is the only place looked at; when null the
    /// binaries are found on PATH, then in the newest /usr/lib/postgresql/*/bin.
    /// </summary>
    public string? BinDirectory { get; init; }

    /// <summary>Extra server settings passed as <c>-c name=value</c>; they override the defaults (but not the port).</summary>
    public IReadOnlyDictionary<string, string>? Settings { get; init; }
}
