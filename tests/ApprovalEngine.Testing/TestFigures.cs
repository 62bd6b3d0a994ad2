using System.Text;
using Xunit.Abstractions;

namespace ApprovalEngine.Testing;

/// <summary>
/// Figures a test measures (precision, latency...) collected in one file, which <c>scripts/test</c> prints after the
/// summary: test output is otherwise shown only for failures. The file is <c>APPROVAL_ENGINE_TEST_FIGURES</c> when
/// set, else <c>TestResults/figures.txt</c> under the repository root.
/// </summary>
public static class TestFigures
{
    public const string PathVariable = "APPROVAL_ENGINE_TEST_FIGURES";

    private static readonly Lock Gate = new();

    public static string FilePath =>
        Environment.GetEnvironmentVariable(PathVariable) is { Length: > 0 } path
            ? path
            : Repository.PathOf("TestResults", "figures.txt");

    /// <summary>Appends <c>name: text</c> as one line to the figures file, and to <paramref name="output"/> when given.</summary>
    public static void Report(string name, string text, ITestOutputHelper? output = null)
    {
        var line = $"{name}: {text}";
        output?.WriteLine(line);
        var path = FilePath;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var bytes = Encoding.UTF8.GetBytes(line + "\n");
        lock (Gate)
        {
            // Test assemblies run in parallel processes: an exclusive open, retried, keeps their lines whole.
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    using var file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.None);
                    file.Write(bytes);
                    return;
                }
                catch (IOException) when (attempt < 50)
                {
                    Thread.Sleep(20);
                }
            }
        }
    }
}
