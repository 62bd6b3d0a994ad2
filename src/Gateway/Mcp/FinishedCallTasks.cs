using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.AspNetCore.WebUtilities;
using ModelContextProtocol.Protocol;

namespace ApprovalEngine.Gateway.Mcp;

/// <summary>
/// Tasks of task-augmented calls that needed no approval. Policy answers those at once (allowed calls run, denied and
/// rate-limited ones are refused), so the gateway runs them as usual and answers with a task that is already
/// finished; its result waits here, in this node's memory, for the task's ttl. Unlike approval tasks they do not
/// survive a restart: they hold nothing a human decided, and a lost one costs the agent a repeated call.
/// </summary>
internal sealed class FinishedCallTasks(TimeProvider time)
{
    public static readonly TimeSpan DefaultTtl = TimeSpan.FromMinutes(5);
    public static readonly TimeSpan MaxTtl = TimeSpan.FromHours(1);

    /// <summary>Per agent; the oldest goes first. The spec asks receivers to bound what one requestor can hold.</summary>
    public const int MaxPerAgent = 100;

    private readonly ConcurrentDictionary<string, Entry> tasks = new(StringComparer.Ordinal);

    public TaskInfo Add(AgentScope scope, CallToolResult result, TimeSpan? requestedTtl)
    {
        var now = time.GetUtcNow();
        Sweep(now);
        var ttl = requestedTtl is { } requested ? (requested < MaxTtl ? requested : MaxTtl) : DefaultTtl;
        var failed = result.IsError == true;
        var task = new TaskInfo(
            NewId(),
            failed ? McpTaskStatus.Failed : McpTaskStatus.Completed,
            failed ? FirstText(result) : "The call completed.",
            now,
            now,
            ttl,
            PollInterval: null);
        tasks[task.TaskId] = new Entry(scope.AgentId, scope.Bundle, task, result, now + ttl);

        var mine = tasks.Where(t => string.Equals(t.Value.AgentId, scope.AgentId, StringComparison.Ordinal)).ToList();
        foreach (var (id, _) in mine.OrderBy(t => t.Value.Task.CreatedAt).Take(mine.Count - MaxPerAgent))
        {
            tasks.TryRemove(id, out _);
        }

        return task;
    }

    /// <summary>The agent's finished task <paramref name="taskId"/>, unless it expired or belongs to someone else.</summary>
    public Entry? Find(AgentScope scope, string taskId)
    {
        if (!tasks.TryGetValue(taskId, out var entry))
        {
            return null;
        }

        if (entry.ExpiresAt <= time.GetUtcNow())
        {
            tasks.TryRemove(taskId, out _);
            return null;
        }

        return string.Equals(entry.AgentId, scope.AgentId, StringComparison.Ordinal) && (scope.Bundle is null || string.Equals(entry.Bundle, scope.Bundle, StringComparison.Ordinal))
            ? entry
            : null;
    }

    private void Sweep(DateTimeOffset now)
    {
        foreach (var (id, entry) in tasks)
        {
            if (entry.ExpiresAt <= now)
            {
                tasks.TryRemove(id, out _);
            }
        }
    }

    /// <summary>Distinct from approval ids (UUIDs) at a glance, and unguessable.</summary>
    private static string NewId()
    {
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes);
        return "call-" + WebEncoders.Base64UrlEncode(bytes);
    }

    private static string? FirstText(CallToolResult result) => result.Content.OfType<TextContentBlock>().FirstOrDefault()?.Text;

    /// <param name="Bundle">The endpoint's bundle (null for <c>/mcp</c>): the task is visible where it was created.</param>
    internal sealed record Entry(string AgentId, string? Bundle, TaskInfo Task, CallToolResult Result, DateTimeOffset ExpiresAt);
}
