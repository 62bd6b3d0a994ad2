using System.Text.Json;
using ApprovalEngine.Gateway.Policy;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Tests.Policy;

public sealed class ResultFilterTests
{
    private const string Email = "jane.doe@example.com";

    private static readonly DetectorSet Pii = DetectorSet.Create(Detectors.Expand(Detectors.Pii)!);

    [Fact]
    public void Apply_Redact_MasksTextResourcesAndStructuredContentAndKeepsTheRest()
    {
        var image = new ImageContentBlock { Data = "aGVsbG8="u8.ToArray(), MimeType = "image/png" };
        var result = new CallToolResult
        {
            Content =
            [
                new TextContentBlock { Text = $"owner: {Email}" },
                image,
                new EmbeddedResourceBlock { Resource = new TextResourceContents { Uri = "file:///a.txt", Text = $"cc {Email}" } },
            ],
            StructuredContent = JsonDocument.Parse($$"""{"owner":"{{Email}}","n":3,"tags":["x"]}""").RootElement.Clone(),
        };

        var filtered = ResultFilter.Apply(result, new ResultPolicy { Detectors = ["pii"] }, Pii, out var verdict, out var found);

        Assert.Equal(ResultVerdict.Redacted, verdict);
        Assert.Equal(["pii.email"], found);
        Assert.Equal("owner: [redacted:pii.email]", Assert.IsType<TextContentBlock>(filtered.Content[0]).Text);
        Assert.Same(image, filtered.Content[1]);
        var resource = Assert.IsType<TextResourceContents>(Assert.IsType<EmbeddedResourceBlock>(filtered.Content[2]).Resource);
        Assert.Equal(("file:///a.txt", "cc [redacted:pii.email]"), (resource.Uri, resource.Text));
        Assert.Equal("""{"owner":"[redacted:pii.email]","n":3,"tags":["x"]}""", filtered.StructuredContent!.Value.GetRawText());
    }

    [Fact]
    public void Apply_Block_WithholdsTheWholeResult()
    {
        var result = new CallToolResult { Content = [new TextContentBlock { Text = $"mail {Email}" }] };

        var filtered = ResultFilter.Apply(result, new ResultPolicy { Detectors = ["pii"], Action = ResultAction.Block }, Pii, out var verdict, out _);

        Assert.Equal(ResultVerdict.Blocked, verdict);
        Assert.True(filtered.IsError);
        Assert.Equal("The tool's result was withheld by policy: it contained pii.email.", Assert.IsType<TextContentBlock>(Assert.Single(filtered.Content)).Text);
    }

    [Fact]
    public void Apply_NothingFound_ReturnsTheSameResult()
    {
        var result = new CallToolResult { Content = [new TextContentBlock { Text = "nothing personal" }] };

        var filtered = ResultFilter.Apply(result, new ResultPolicy { Detectors = ["pii"], Action = ResultAction.Block }, Pii, out var verdict, out var found);

        Assert.Same(result, filtered);
        Assert.Equal(ResultVerdict.Unchanged, verdict);
        Assert.Empty(found);
    }
}
