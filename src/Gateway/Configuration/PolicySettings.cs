using ApprovalEngine.Gateway.Policy;

namespace ApprovalEngine.Gateway.Configuration;

/// <summary>Reads the settings of policy actions: <c>approval</c>, <c>limit</c> and <c>results</c>.</summary>
internal static class PolicySettings
{
    private static readonly string[] RateLimitKeys = ["agent", "tool", "bundle", "upstream"];

    public static ResultPolicy? Results(MappingView owner)
    {
        if (owner.Child("results", "detectors", "action") is not { } view)
        {
            return null;
        }

        var detectors = PolicySection.DetectorSelectors(view, "detectors");
        if (!view.Has("detectors"))
        {
            view.Missing("detectors", "(which detectors to look for in results, e.g. [secrets])");
        }

        var action = view.Choice("action", required: false, "redact", "block") == "block" ? ResultAction.Block : ResultAction.Redact;
        return detectors.Count == 0 ? null : new ResultPolicy { Detectors = detectors, Action = action };
    }

    public static ApprovalSpec Approval(MappingView view, RuleContext context)
    {
        var approvers = PolicySection.ApproverGroups(view, "approvers", context.Known);
        var onTimeout = view.Choice("onTimeout", required: false, "deny", "escalate") == "escalate" ? OnTimeout.Escalate : OnTimeout.Deny;
        Escalation? escalation = null;
        if (view.Child("escalate", "approvers", "timeout") is { } escalate)
        {
            if (!escalate.Has("approvers"))
            {
                escalate.Missing("approvers", "(the groups asked once the first timeout passes)");
            }

            escalation = new Escalation
            {
                Approvers = PolicySection.ApproverGroups(escalate, "approvers", context.Known),
                Timeout = escalate.Duration("timeout", ApprovalSpec.DefaultTimeout),
            };
        }

        if (onTimeout == OnTimeout.Escalate && escalation is null && !view.Has("escalate"))
        {
            view.Missing("escalate", "for onTimeout: escalate (approvers and timeout)");
        }
        else if (onTimeout == OnTimeout.Deny && view.Has("escalate"))
        {
            view.Reader.Error(view.KeyPosition("escalate"), view.PathOf("escalate"), "escalate is used only with onTimeout: escalate");
        }

        var quorum = (int)view.Int64("quorum", 1, 1);
        var groups = approvers.Count > 0 ? approvers : context.DefaultApprovers;
        var people = groups.SelectMany(g => context.Known.ApproverMembers.GetValueOrDefault(g) ?? []).Distinct(StringComparer.OrdinalIgnoreCase).Count();
        if (view.Has("quorum") && groups.Count > 0 && quorum > people)
        {
            view.Reader.Error(view.KeyPosition("quorum"), view.PathOf("quorum"),
                $"a quorum of {quorum} can never be reached: the approver groups [{string.Join(", ", groups)}] have {people} member(s)");
        }

        RememberSpec? remember = null;
        if (view.Child("remember", "for", "sameArguments") is { } rememberView)
        {
            if (!rememberView.Has("for"))
            {
                rememberView.Missing("for", "(how long the grant lasts, e.g. 8h)");
            }

            remember = new RememberSpec
            {
                Duration = rememberView.Duration("for", TimeSpan.Zero),
                SameArguments = rememberView.Choice("sameArguments", required: false, "true", "false") is not "false",
            };
        }

        return new ApprovalSpec
        {
            Approvers = approvers,
            Quorum = quorum,
            Timeout = view.Duration("timeout", ApprovalSpec.DefaultTimeout),
            OnTimeout = onTimeout,
            Escalation = onTimeout == OnTimeout.Escalate ? escalation : null,
            Hold = view.Duration("hold", ApprovalSpec.DefaultHold),
            AllowEdits = view.Choice("allowEdits", required: false, "true", "false") == "true",
            WithdrawAfter = view.Has("withdrawAfter") ? view.Duration("withdrawAfter", TimeSpan.Zero) : null,
            Remember = remember,
        };
    }

    public static RateLimitSpec? Limit(MappingView view)
    {
        if (!view.Has("calls"))
        {
            view.Missing("calls", "(how many calls the window admits)");
        }

        if (!view.Has("window"))
        {
            view.Missing("window", "(e.g. 1m)");
        }

        var by = new List<RateLimitKey>();
        foreach (var (key, at) in view.List("by", value => RateLimitKeys.Contains(value, StringComparer.Ordinal)
            ? null
            : $"must be one of: {string.Join(", ", RateLimitKeys)}{FieldNames.Suggestion(value, RateLimitKeys)}"))
        {
            var parsed = Enum.Parse<RateLimitKey>(key, ignoreCase: true);
            if (by.Contains(parsed))
            {
                view.Reader.Error(at, view.PathOf("by"), $"\"{key}\" is listed twice");
            }

            by.Add(parsed);
        }

        var calls = view.Int64("calls", 0, 1);
        var window = view.Duration("window", TimeSpan.Zero);
        if (calls > RateLimitSpec.MaxCalls)
        {
            view.Reader.Error(view.KeyPosition("calls"), view.PathOf("calls"), $"must be at most {RateLimitSpec.MaxCalls} (each budget remembers the time of every admitted call)");
        }

        return calls is < 1 or > RateLimitSpec.MaxCalls || window <= TimeSpan.Zero
            ? null
            : new RateLimitSpec { Calls = (int)calls, Window = window, By = by.Count > 0 ? by : [RateLimitKey.Agent, RateLimitKey.Tool] };
    }
}
