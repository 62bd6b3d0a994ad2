using System.Text.Json.Nodes;
using ApprovalEngine.Testing;

namespace ApprovalEngine.Gateway.Tests.Quickstart;

/// <summary>The "connect an agent" examples of the README, read from the file as a user copies them.</summary>
internal static class ReadmeExamples
{
    /// <summary>The URL every example points at: the quickstart's bundle on the default listen address.</summary>
    public const string QuickstartUrl = "http://127.0.0.1:8080/mcp/quickstart";

    /// <summary>The code block that follows <c>**<paramref name="heading"/>**</c> in README.md.</summary>
    public static string Block(string heading)
    {
        var readme = File.ReadAllText(Repository.PathOf("README.md"));
        var at = readme.IndexOf($"**{heading}**", StringComparison.Ordinal);
        if (at < 0)
        {
            throw new InvalidOperationException($"README.md has no example headed **{heading}**.");
        }

        var fence = readme.IndexOf("```", at, StringComparison.Ordinal);
        var start = readme.IndexOf('\n', fence) + 1;
        var end = readme.IndexOf("\n```", start, StringComparison.Ordinal);
        return readme[start..end];
    }

    public static JsonObject Json(string heading) => JsonNode.Parse(Block(heading))!.AsObject();
}
