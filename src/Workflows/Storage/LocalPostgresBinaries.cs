using System.Globalization;

namespace ApprovalEngine.Workflows.Storage;

/// <summary>Finds the PostgreSQL server binaries (initdb, postgres) a local cluster needs.</summary>
internal static class LocalPostgresBinaries
{
    internal const string DebianRoot = "/usr/lib/postgresql";

    private static readonly string[] Required = ["initdb", "postgres"];

    /// <summary>The directory holding the real binaries, or an exception that says what to do.</summary>
    internal static string Find(string? configured) =>
        Find(configured, Environment.GetEnvironmentVariable("PATH"), DebianRoot);

    internal static string Find(string? configured, string? pathVariable, string versionedRoot)
    {
        if (configured is not null)
        {
            // An explicit directory is authoritative: silently running some other version would hide a misconfiguration.
            var explicitDir = Path.GetFullPath(configured);
            return HasAll(explicitDir) ? explicitDir : throw NotFound($"the configured directory {explicitDir}");
        }

        return FromPath(pathVariable) ?? FromVersionedRoot(versionedRoot)
            ?? throw NotFound($"PATH or {versionedRoot}/*/bin");
    }

    internal static string? FindOnPath(string program, string? pathVariable)
    {
        foreach (var dir in (pathVariable ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, program);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private static string? FromPath(string? pathVariable)
    {
        var postgres = FindOnPath("postgres", pathVariable);
        if (postgres is null)
        {
            return null;
        }

        // Debian links only a few programs into /usr/local/bin or /usr/bin; the real directory has them all.
        var real = new FileInfo(postgres).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? postgres;
        var dir = Path.GetDirectoryName(real);
        if (dir is not null && HasAll(dir))
        {
            return dir;
        }

        var linkDir = Path.GetDirectoryName(postgres);
        return linkDir is not null && HasAll(linkDir) ? linkDir : null;
    }

    private static string? FromVersionedRoot(string root)
    {
        if (!Directory.Exists(root))
        {
            return null;
        }

        return Directory.EnumerateDirectories(root)
            .Select(dir => (Dir: Path.Combine(dir, "bin"), Version: ParseVersion(Path.GetFileName(dir))))
            .Where(c => c.Version is not null && HasAll(c.Dir))
            .OrderByDescending(c => c.Version)
            .Select(c => c.Dir)
            .FirstOrDefault();
    }

    private static Version? ParseVersion(string name) =>
        int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var major) ? new Version(major, 0)
        : Version.TryParse(name, out var version) ? version
        : null;

    private static bool HasAll(string dir) => Required.All(program => File.Exists(Path.Combine(dir, program)));

    private static InvalidOperationException NotFound(string where) => new(
        $"The PostgreSQL server binaries (initdb, postgres) were not found in {where}. " +
        "Either install them (Debian/Ubuntu: `apt-get install postgresql`; or set LocalPostgresOptions.BinDirectory " +
        "to the directory that holds them), or use an existing PostgreSQL server by setting the connection string " +
        "`ConnectionStrings:ApprovalEngine` (environment variable `ConnectionStrings__ApprovalEngine`).");
}
