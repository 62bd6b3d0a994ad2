using System.Text.Json;

namespace ApprovalEngine.Cli;

/// <summary>A gateway URL and the person's API token for it.</summary>
internal sealed record Credentials(string Url, string Token);

/// <summary>
/// The credentials file, <c>$XDG_CONFIG_HOME/approval-engine/credentials.json</c> (or <c>~/.config/...</c>): readable
/// by its owner only. A file others can read is refused, as ssh refuses such a key, since the token would have leaked.
/// </summary>
internal sealed class CredentialStore(Func<string, string?> environment)
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode GroupOrOther = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    public string FilePath { get; } = Path.Combine(ConfigHome(environment), "approval-engine", "credentials.json");

    public Credentials? Load()
    {
        if (!File.Exists(FilePath))
        {
            return null;
        }

        if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(FilePath) & GroupOrOther) != 0)
        {
            throw new CliFailure(ExitCodes.NotAuthorized,
                $"{FilePath} can be read by other users, so its token may have leaked. Run 'approvals logout', revoke the token, and log in again.");
        }

        try
        {
            var stored = JsonSerializer.Deserialize<Credentials>(File.ReadAllText(FilePath), JsonSerializerOptions.Web);
            return stored is { Url.Length: > 0, Token.Length: > 0 } ? stored : throw new JsonException("url or token is missing");
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            throw new CliFailure(ExitCodes.NotAuthorized, $"Cannot read {FilePath} ({e.Message}); run 'approvals login' again.", e);
        }
    }

    /// <summary>Writes a new file with mode 0600 next to the old one and renames it over, so no reader sees half a file.</summary>
    public void Save(Credentials credentials)
    {
        var directory = Path.GetDirectoryName(FilePath)!;
        var temporary = FilePath + ".tmp";
        try
        {
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(directory);
                File.WriteAllText(temporary, JsonSerializer.Serialize(credentials, JsonSerializerOptions.Web));
            }
            else
            {
                Directory.CreateDirectory(directory, OwnerDirectory);
                File.Delete(temporary);
                var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = OwnerOnly };
                using (var file = new FileStream(temporary, options))
                {
                    JsonSerializer.Serialize(file, credentials, JsonSerializerOptions.Web);
                }

                // The umask can only remove bits; this makes the mode exactly 0600 whatever it is.
                File.SetUnixFileMode(temporary, OwnerOnly);
            }

            File.Move(temporary, FilePath, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliFailure(ExitCodes.Usage, $"Cannot write {FilePath}: {e.Message}", e);
        }
    }

    /// <summary>Removes the file; false when there was none.</summary>
    public bool Delete()
    {
        if (!File.Exists(FilePath))
        {
            return false;
        }

        File.Delete(FilePath);
        return true;
    }

    private static string ConfigHome(Func<string, string?> environment)
    {
        if (environment("XDG_CONFIG_HOME") is { Length: > 0 } xdg && Path.IsPathRooted(xdg))
        {
            return xdg;
        }

        var home = environment("HOME") is { Length: > 0 } fromEnvironment
            ? fromEnvironment
            : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return home.Length > 0
            ? Path.Combine(home, ".config")
            : throw new CliFailure(ExitCodes.Usage, "Neither XDG_CONFIG_HOME nor HOME is set: there is nowhere to keep credentials. Set APPROVALS_URL and APPROVALS_TOKEN instead.");
    }
}
