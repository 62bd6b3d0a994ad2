using ApprovalEngine.Workflows.Approval;
using Microsoft.Extensions.Options;

namespace ApprovalEngine.Workflows.Runtime;

/// <summary>The activities this node can run, by kind, plus the built-in deadline timer.</summary>
public sealed class ActivityRegistry
{
    private readonly Dictionary<string, IActivity> _byKind;
    private readonly ActivityOptions _timerOptions;

    public ActivityRegistry(IEnumerable<IActivity> activities, IOptions<WorkflowRuntimeOptions> options)
    {
        _byKind = new Dictionary<string, IActivity>(StringComparer.Ordinal);
        foreach (var activity in activities)
        {
            if (activity.Kind == TaskKinds.Deadline)
            {
                throw new InvalidOperationException($"Task kind '{TaskKinds.Deadline}' is the runtime's own timer; an activity cannot claim it ({activity.GetType().Name}).");
            }

            if (!_byKind.TryAdd(activity.Kind, activity))
            {
                throw new InvalidOperationException(
                    $"Two activities are registered for task kind '{activity.Kind}': {_byKind[activity.Kind].GetType().Name} and {activity.GetType().Name}.");
            }
        }

        _timerOptions = options.Value.TimerOptions;
        Kinds = [TaskKinds.Deadline, .. _byKind.Keys];
    }

    /// <summary>Task kinds this node claims.</summary>
    public string[] Kinds { get; }

    public IActivity? Find(string kind) => _byKind.GetValueOrDefault(kind);

    /// <summary>Retry policy for a kind; kinds without an activity on this node get the defaults.</summary>
    public ActivityOptions OptionsFor(string kind) =>
        kind == TaskKinds.Deadline ? _timerOptions : _byKind.TryGetValue(kind, out var a) ? a.Options : new ActivityOptions();
}
