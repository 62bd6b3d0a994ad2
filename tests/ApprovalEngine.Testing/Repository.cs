namespace ApprovalEngine.Testing;

/// <summary>The repository the tests run from: the directory above the test binaries that holds ApprovalEngine.sln.</summary>
public static class Repository
{
    public static string Root { get; } = Find();

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string Find()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "ApprovalEngine.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No ApprovalEngine.sln above {AppContext.BaseDirectory}: the tests run from a clone of the repository.");
    }
}
