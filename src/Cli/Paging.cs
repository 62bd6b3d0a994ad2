using System.CommandLine;
using System.Text.Json.Nodes;

namespace ApprovalEngine.Cli;

/// <summary>
/// The API's cursor pages (<c>{ "items": [...], "nextCursor": ... }</c>): one page, or every page with <c>--all</c>.
/// </summary>
internal static class Paging
{
    public const int MaxLimit = 1000;

    public static Option<int?> LimitOption(string description) => new("--limit")
    {
        Description = description,
        Validators =
        {
            result =>
            {
                if (result.GetValueOrDefault<int?>() is < 1 or > MaxLimit)
                {
                    result.AddError($"--limit must be between 1 and {MaxLimit}.");
                }
            },
        },
    };

    public static Option<bool> AllOption() => new("--all") { Description = "Follow the cursor to the last page (--limit is then the page size)" };

    /// <summary>The items of the first page, or of all pages; and the cursor of the page after the last one read.</summary>
    public static async Task<(JsonArray Items, string? NextCursor)> ReadAsync(
        GatewayClient client, Func<string?, string> pathForCursor, bool all, CancellationToken cancellationToken)
    {
        var items = new JsonArray();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        string? cursor = null;
        while (true)
        {
            var page = await client.GetAsync(pathForCursor(cursor), cancellationToken);
            if (Output.Get(page, "items") is not JsonArray pageItems)
            {
                throw new CliFailure(ExitCodes.ServerError, $"The gateway at {client.BaseUrl} answered without an items list.");
            }

            foreach (var item in pageItems.ToList())
            {
                pageItems.Remove(item);
                items.Add(item);
            }

            cursor = Output.Text(page, "nextCursor");
            if (!all || cursor is null)
            {
                return (items, cursor);
            }

            // A cursor that comes back would loop forever.
            if (!seen.Add(cursor))
            {
                throw new CliFailure(ExitCodes.ServerError, $"The gateway at {client.BaseUrl} returned the cursor '{cursor}' twice.");
            }
        }
    }

    /// <summary>The items as the API's page shape, for <c>--json</c>.</summary>
    public static JsonObject AsPage(JsonArray items, string? nextCursor) => new() { ["items"] = items, ["nextCursor"] = nextCursor };

    /// <summary>Tells a person on standard error that more results exist.</summary>
    public static void MoreHint(TextWriter error, string? nextCursor, int shown)
    {
        if (nextCursor is not null)
        {
            error.WriteLine($"Showing the first {shown}; there are more: add --all, or narrow the query.");
        }
    }
}
