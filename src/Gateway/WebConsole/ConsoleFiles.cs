using System.Collections.Frozen;
using System.Reflection;
using System.Security.Cryptography;

namespace ApprovalEngine.Gateway.WebConsole;

/// <summary>One file of the web console: its bytes, content type and strong entity tag.</summary>
public sealed record ConsoleFile(string Path, ReadOnlyMemory<byte> Content, string ContentType, string ETag);

/// <summary>
/// The web console's files, read once from the assembly's resources (named <c>console/…</c> by the project file), so
/// the console is served the same from any working directory and from a published single binary.
/// </summary>
public sealed class ConsoleFiles
{
    /// <summary>The prefix of the console's resource names; the rest is the file's path under <c>/console/</c>.</summary>
    public const string ResourcePrefix = "console/";

    public const string IndexPath = "index.html";

    // Only the types the console ships: an unknown extension fails at start instead of being served as a guess.
    private static readonly FrozenDictionary<string, string> ContentTypes = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        [".html"] = "text/html; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".svg"] = "image/svg+xml",
        [".json"] = "application/json; charset=utf-8",
        [".txt"] = "text/plain; charset=utf-8",
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    private readonly FrozenDictionary<string, ConsoleFile> files;

    private ConsoleFiles(FrozenDictionary<string, ConsoleFile> files)
    {
        this.files = files;
        Index = files.TryGetValue(IndexPath, out var index)
            ? index
            : throw new InvalidOperationException($"The console's {IndexPath} is not among the assembly's resources.");
    }

    public ConsoleFile Index { get; }

    /// <summary>Every file's path under <c>/console/</c>, e.g. <c>js/app.js</c>.</summary>
    public IEnumerable<string> Paths => files.Keys;

    /// <exception cref="InvalidOperationException">A resource has an extension the console does not serve, or there is no index.</exception>
    public static ConsoleFiles Load(Assembly assembly)
    {
        var files = new Dictionary<string, ConsoleFile>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames())
        {
            // RecursiveDir in the logical name carries the build machine's separator.
            var normalized = name.Replace('\\', '/');
            if (!normalized.StartsWith(ResourcePrefix, StringComparison.Ordinal))
            {
                continue;
            }

            var path = normalized[ResourcePrefix.Length..];
            if (!ContentTypes.TryGetValue(System.IO.Path.GetExtension(path), out var contentType))
            {
                throw new InvalidOperationException($"The console file {path} has an extension the console does not serve.");
            }

            using var stream = assembly.GetManifestResourceStream(name)
                ?? throw new InvalidOperationException($"The resource {name} is listed but cannot be read.");
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var content = copy.ToArray();
            var etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(content))[..32] + "\"";
            files[path] = new ConsoleFile(path, content, contentType, etag);
        }

        return new ConsoleFiles(files.ToFrozenDictionary(StringComparer.Ordinal));
    }

    public bool TryGet(string path, out ConsoleFile file) => files.TryGetValue(path, out file!);
}
