namespace ApprovalEngine.Gateway.Configuration;

internal static class ApproversSection
{
    private static readonly string[] Fields = ["members", "slack", "teams"];

    public static Dictionary<string, ApproverGroupConfig> Read(MappingView root)
    {
        var groups = new Dictionary<string, ApproverGroupConfig>(StringComparer.Ordinal);
        if (root.Child("approvers") is not { } section)
        {
            return groups;
        }

        foreach (var (key, value) in section.Entries)
        {
            var path = section.PathOf(key.Value);
            if (Checks.Name(key.Value) is { } problem)
            {
                section.Reader.Error(key.Start, path, $"the group name {problem} (got \"{key.Value}\")");
            }

            var group = section.Reader.Mapping(value, path, key.Start, Fields);
            if (group is null)
            {
                if (value is YScalar { IsNull: true })
                {
                    section.Reader.Error(key.Start, ConfigReader.Join(path, "members"), "is required (a list of approver emails)");
                }

                continue;
            }

            if (!group.Has("members"))
            {
                group.Missing("members", "(a list of approver emails)");
                continue;
            }

            groups[key.Value] = new ApproverGroupConfig
            {
                Name = key.Value,
                Members = group.Strings("members", Checks.Email),
                Teams = TeamsSection.ReadDelivery(group, root.Has("teams")),
                Slack = SlackSection.ReadDelivery(group, root.Has("slack")),
            };
        }

        return groups;
    }
}
