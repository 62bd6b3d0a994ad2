using System.Collections.Concurrent;
using System.Diagnostics;
using ApprovalEngine.Activities;
using ApprovalEngine.Testing;
using ApprovalEngine.Workflows.Approval;
using ApprovalEngine.Workflows.Runtime;
using Npgsql;

namespace ApprovalEngine.Workflows.Tests.Runtime;

/// <summary>
/// A worker process is killed with SIGKILL while the approved call is in flight; another node picks up the pieces.
/// The call "reaches the upstream" when a row lands in test_invocation, so the tests count real invocations.
/// </summary>
public sealed class WorkerKillTests
{
    private static readonly TimeSpan Lease = TimeSpan.FromMilliseconds(1500);
    private static readonly TimeSpan WaitLimit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task KilledWorker_IdempotentExecute_IsFinishedByAnotherProcess()
    {
        var connectionString = await TestPostgres.CreateDatabaseAsync("worker_kill_idempotent");
        await using var db = NpgsqlDataSource.Create(connectionString);
        var (workflowId, killedPid) = await ApproveAndKillWorkerMidCallAsync(connectionString, db, idempotent: true);

        await using var node = await TestNode.StartAsync(connectionString, o => o.LeaseDuration = Lease, invoke: RecordInProcess(db));
        await WaitForExecuteLeaseExpiryAsync(db, workflowId);
        var reaped = await node.Reaper.ReapOnceAsync();
        using var timeout = new CancellationTokenSource(WaitLimit);
        var final = await node.Runtime.AwaitAsync(workflowId, cancellationToken: timeout.Token);

        Assert.True(reaped >= 1, $"the reaper dealt with {reaped} expired tasks");
        Assert.Equal(ApprovalStatus.Completed, final.State.Status);
        Assert.Equal(2, final.State.ExecutionAttempts);
        Assert.Equal(new[] { new Invocation(1, killedPid), new Invocation(2, Environment.ProcessId) }, await InvocationsAsync(db, workflowId));
        Assert.Equal("done", await ExecuteTaskStateAsync(db, workflowId));
    }

    [Fact]
    public async Task KilledWorker_NonIdempotentExecute_EndsInDoubtAndNeverRunsAgain()
    {
        var connectionString = await TestPostgres.CreateDatabaseAsync("worker_kill_at_most_once");
        await using var db = NpgsqlDataSource.Create(connectionString);
        var (workflowId, killedPid) = await ApproveAndKillWorkerMidCallAsync(connectionString, db, idempotent: false);

        await using var node = await TestNode.StartAsync(connectionString, o => o.LeaseDuration = Lease, invoke: RecordInProcess(db));
        await WaitForExecuteLeaseExpiryAsync(db, workflowId);
        var reaped = await node.Reaper.ReapOnceAsync();
        var inDoubt = await node.Runtime.GetAsync(workflowId);

        Assert.True(reaped >= 1, $"the reaper dealt with {reaped} expired tasks");
        Assert.NotNull(inDoubt);
        Assert.Equal(ApprovalStatus.InDoubt, inDoubt.State.Status);
        Assert.Contains("lease expired", inDoubt.State.Reason, StringComparison.Ordinal);
        Assert.Contains("mid-call", inDoubt.State.Reason, StringComparison.Ordinal);
        Assert.Equal("dead", await ExecuteTaskStateAsync(db, workflowId));
        Assert.Equal(new[] { new Invocation(1, killedPid) }, await InvocationsAsync(db, workflowId));

        // Give the live worker every chance to run the call again: it drains the in_doubt notify (proof it is
        // claiming), a second reaper pass finds nothing, and a "never happens" needs a span of time to watch.
        await WaitUntilAsync(() => OpenTaskCountAsync(db, workflowId, 0), "the in-process worker to drain the workflow's tasks");
        Assert.Equal(0, await node.Reaper.ReapOnceAsync());
        await Task.Delay(2 * Lease);
        var after = await node.Runtime.GetAsync(workflowId);

        Assert.Equal(new[] { new Invocation(1, killedPid) }, await InvocationsAsync(db, workflowId));
        Assert.Equal(ApprovalStatus.InDoubt, after!.State.Status);
        Assert.Equal("dead", await ExecuteTaskStateAsync(db, workflowId));
    }

    /// <summary>
    /// Start a worker process and an API-only node, start and approve a workflow, wait until the worker process
    /// is inside the call, and kill it. Returns the workflow and the killed process's id.
    /// </summary>
    private static async Task<(Guid WorkflowId, int KilledPid)> ApproveAndKillWorkerMidCallAsync(string connectionString, NpgsqlDataSource db, bool idempotent)
    {
        await using (var create = db.CreateCommand("CREATE TABLE test_invocation (wf_id uuid NOT NULL, attempt int NOT NULL, pid int NOT NULL, at timestamptz NOT NULL DEFAULT now())"))
        {
            await create.ExecuteNonQueryAsync();
        }

        await using var worker = await WorkerProcess.StartAsync(connectionString, Lease);
        await using var api = await TestNode.StartAsync(connectionString, o => o.RunWorker = false);
        var started = await api.Runtime.StartAsync($"worker-kill-{Guid.NewGuid():N}", TestRequests.Create(idempotent: idempotent));
        var workflowId = started.Workflow.Id;
        var approved = await api.Runtime.SignalAsync(workflowId, new SignalRequest(SignalNames.Approve, "approve-1", "alice@example.com"));
        Assert.True(approved.Accepted, approved.Message);

        await WaitUntilAsync(
            async () => worker.HasExited ? throw new InvalidOperationException($"The worker process exited early:\n{worker.Output}")
                : (await InvocationsAsync(db, workflowId)).Any(i => i.Pid == worker.Pid),
            "the worker process to start the call");
        Assert.Equal(new[] { new Invocation(1, worker.Pid) }, await InvocationsAsync(db, workflowId));
        var executing = await api.Runtime.GetAsync(workflowId);
        Assert.Equal(ApprovalStatus.Executing, executing!.State.Status);

        await worker.KillAsync();
        return (workflowId, worker.Pid);
    }

    private static Func<ToolInvocation, CancellationToken, Task<ActivityResult>> RecordInProcess(NpgsqlDataSource db) => async (invocation, ct) =>
    {
        await using var cmd = db.CreateCommand("INSERT INTO test_invocation (wf_id, attempt, pid) VALUES ($1, $2, $3)");
        cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = invocation.ApprovalId });
        cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = invocation.Attempt });
        cmd.Parameters.Add(new NpgsqlParameter<int> { TypedValue = Environment.ProcessId });
        await cmd.ExecuteNonQueryAsync(ct);
        return ActivityResult.Success(TestNode.Json("""{"ok":true}"""));
    };

    /// <summary>The killed worker's heartbeats stop; wait on the database clock (the one the reaper uses) for the lease to run out.</summary>
    private static Task WaitForExecuteLeaseExpiryAsync(NpgsqlDataSource db, Guid workflowId) => WaitUntilAsync(async () =>
    {
        await using var cmd = db.CreateCommand("SELECT lease_until < now() FROM wf_task WHERE wf_id = $1 AND kind = 'execute'");
        cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = workflowId });
        return await cmd.ExecuteScalarAsync() is true;
    }, "the killed worker's lease on the execute task to expire");

    private static async Task<List<Invocation>> InvocationsAsync(NpgsqlDataSource db, Guid workflowId)
    {
        await using var cmd = db.CreateCommand("SELECT attempt, pid FROM test_invocation WHERE wf_id = $1 ORDER BY at, attempt");
        cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = workflowId });
        await using var reader = await cmd.ExecuteReaderAsync();
        var invocations = new List<Invocation>();
        while (await reader.ReadAsync())
        {
            invocations.Add(new Invocation(reader.GetInt32(0), reader.GetInt32(1)));
        }

        return invocations;
    }

    private static async Task<string?> ExecuteTaskStateAsync(NpgsqlDataSource db, Guid workflowId)
    {
        await using var cmd = db.CreateCommand("SELECT state FROM wf_task WHERE wf_id = $1 AND kind = 'execute'");
        cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = workflowId });
        return (string?)await cmd.ExecuteScalarAsync();
    }

    private static async Task<bool> OpenTaskCountAsync(NpgsqlDataSource db, Guid workflowId, long expected)
    {
        await using var cmd = db.CreateCommand("SELECT count(*) FROM wf_task WHERE wf_id = $1 AND state IN ('ready', 'running')");
        cmd.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = workflowId });
        return (long)(await cmd.ExecuteScalarAsync())! == expected;
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(deadline.Elapsed < WaitLimit, $"Timed out after {WaitLimit.TotalSeconds} s waiting for {what}.");
            await Task.Delay(50);
        }
    }

    private sealed record Invocation(int Attempt, int Pid);

    /// <summary>The WorkerHost program in a child process; disposing kills it if the test has not.</summary>
    private sealed class WorkerProcess : IAsyncDisposable
    {
        private const string TestProject = "ApprovalEngine.Workflows.Tests";
        private const string WorkerProject = "ApprovalEngine.Workflows.WorkerHost";

        private readonly Process _process;
        private readonly ConcurrentQueue<string> _output = new();
        private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private WorkerProcess(Process process) => _process = process;

        public int Pid => _process.Id;

        public bool HasExited => _process.HasExited;

        public string Output => string.Join('\n', _output);

        public static async Task<WorkerProcess> StartAsync(string connectionString, TimeSpan lease)
        {
            var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in new[] { FindWorkerHostDll(), "--connection", connectionString, "--lease-ms", ((int)lease.TotalMilliseconds).ToString() })
            {
                start.ArgumentList.Add(arg);
            }

            var worker = new WorkerProcess(new Process { StartInfo = start, EnableRaisingEvents = true });
            worker._process.OutputDataReceived += (_, e) => worker.OnLine("out", e.Data);
            worker._process.ErrorDataReceived += (_, e) => worker.OnLine("err", e.Data);
            worker._process.Exited += (_, _) => worker._ready.TrySetException(new InvalidOperationException("The worker process exited before it was ready."));
            worker._process.Start();
            worker._process.BeginOutputReadLine();
            worker._process.BeginErrorReadLine();
            try
            {
                await worker._ready.Task.WaitAsync(WaitLimit);
            }
            catch (Exception e) when (e is TimeoutException or InvalidOperationException)
            {
                await worker.DisposeAsync();
                Assert.Fail($"The worker process did not print 'ready' ({e.Message}). Its output:\n{worker.Output}");
            }

            return worker;
        }

        /// <summary>SIGKILL on Unix: no graceful shutdown, no lease release, no final write.</summary>
        public async Task KillAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            // Also drains the redirected output, so a failure message shows all of it.
            using var timeout = new CancellationTokenSource(WaitLimit);
            await _process.WaitForExitAsync(timeout.Token);
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await KillAsync();
            }
            finally
            {
                _process.Dispose();
            }
        }

        private void OnLine(string stream, string? line)
        {
            if (line is null)
            {
                return;
            }

            _output.Enqueue($"[{stream}] {line}");
            if (stream == "out" && line.Trim() == "ready")
            {
                _ready.TrySetResult();
            }
        }

        /// <summary>
        /// The worker is built beside this project (a ProjectReference with ReferenceOutputAssembly=false): same
        /// configuration and target framework, so swap the project folder in our own output path.
        /// </summary>
        private static string FindWorkerHostDll()
        {
            var output = new DirectoryInfo(AppContext.BaseDirectory);
            for (var dir = output; dir?.Parent is { } parent; dir = parent)
            {
                if (dir.Name == TestProject)
                {
                    var dll = Path.Combine(parent.FullName, WorkerProject, Path.GetRelativePath(dir.FullName, output.FullName), WorkerProject + ".dll");
                    Assert.True(File.Exists(dll), $"The worker host is not built at {dll}; build {TestProject} (it references {WorkerProject}).");
                    return dll;
                }
            }

            Assert.Fail($"Cannot find the {TestProject} folder above {AppContext.BaseDirectory} to locate {WorkerProject}.dll.");
            return "";
        }
    }
}
