using System.Text.Json;
using ApprovalEngine.Workflows.Approval;

namespace ApprovalEngine.Workflows.Runtime;

/// <summary>
/// A side effect the runtime runs for a task kind (the Temporal "activity"). Implementations live in
/// ApprovalEngine.Activities and are registered through DI; the runtime claims, leases, retries and fences them.
/// </summary>
public interface IActivity
{
    string Kind { get; }

    ActivityOptions Options { get; }

    Task<ActivityResult> RunAsync(ActivityContext context, CancellationToken cancellationToken);
}

/// <summary>Retry and delivery policy of one activity kind.</summary>
public sealed record ActivityOptions
{
    public int MaxAttempts { get; init; } = 8;
    public TimeSpan BaseDelay { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// True: a lease lost mid-run is never retried (the outcome is unknown). The execute kind overrides
    /// this per task from the tool's idempotency.
    /// </summary>
    public bool AtMostOnce { get; init; }
}

/// <summary>What an activity gets: its task, and the workflow as of <paramref name="WorkflowVersion"/> (when the task was claimed).</summary>
public sealed record ActivityContext(long TaskId, Guid WorkflowId, string Kind, int Attempt, int MaxAttempts, JsonElement Args, ApprovalState Workflow, int WorkflowVersion);

/// <summary>What an activity reports. Failures are values, not exceptions; an exception counts as <see cref="OutcomeUnknown"/>.</summary>
public abstract record ActivityResult
{
    public static ActivityResult Success(JsonElement? output = null) => new Completed(output);

    /// <summary>The effect definitely did not happen, or happened with an error answer.</summary>
    /// <param name="retryable">Running it again is safe and may succeed.</param>
    public static ActivityResult Failure(string error, bool retryable) => new Failed(error, retryable);

    /// <summary>
    /// The effect did not happen and the other side said when to try again (HTTP 429 <c>Retry-After</c>): the next
    /// attempt runs after <paramref name="after"/> instead of the kind's backoff.
    /// </summary>
    public static ActivityResult RetryLater(string error, TimeSpan after) => new Failed(error, Retryable: true) { RetryAfter = after };

    public static ActivityResult Unknown(string reason) => new OutcomeUnknown(reason);

    public sealed record Completed(JsonElement? Output) : ActivityResult;

    public sealed record Failed(string Error, bool Retryable) : ActivityResult
    {
        /// <summary>When set, the next attempt waits exactly this long (database clock) instead of backing off.</summary>
        public TimeSpan? RetryAfter { get; init; }
    }

    /// <summary>The effect may or may not have happened (crash, timeout mid-call).</summary>
    public sealed record OutcomeUnknown(string Reason) : ActivityResult;
}
