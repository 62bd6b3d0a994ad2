using ApprovalEngine.Gateway.Configuration;

namespace ApprovalEngine.Gateway.Tests.Configuration;

/// <summary>A temporary directory for configuration files, deleted on dispose.</summary>
internal sealed class ConfigTestFiles : IDisposable
{
    public ConfigTestFiles()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("ae-config-").FullName;
        ConfigPath = Path.Combine(Directory, "gateway.yaml");
    }

    public string Directory { get; }

    public string ConfigPath { get; }

    /// <summary>A configuration text parsed as if read from gateway.yaml, with the given environment.</summary>
    public static ConfigLoadResult Parse(string yaml, IReadOnlyDictionary<string, string>? environment = null) =>
        GatewayConfigLoader.Parse(yaml, "gateway.yaml", name => environment?.GetValueOrDefault(name));

    public string Write(string yaml, string? name = null)
    {
        var path = name is null ? ConfigPath : Path.Combine(Directory, name);
        File.WriteAllText(path, yaml);
        return path;
    }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
