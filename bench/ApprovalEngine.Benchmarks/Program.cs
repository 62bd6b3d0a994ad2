using System.Runtime.InteropServices;
using ApprovalEngine.Benchmarks;
using ApprovalEngine.Benchmarks.Gated;
using ApprovalEngine.Benchmarks.Gateway;
using ApprovalEngine.Benchmarks.Policy;
using ApprovalEngine.Benchmarks.SessionLoad;

// Benchmarks of the runtime, the gateway and gated calls; every one is bounded in time and starts (and stops) what it measures.
// `echo-upstream` is not a benchmark: it is the MCP server the gateway and gated benchmarks run as their child process.
// Ctrl-C and SIGTERM end the run the same way: in-flight work is cancelled and every child process is stopped by pid.
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    cancel.Cancel();
});

try
{
    switch (args.FirstOrDefault())
    {
        case EchoUpstream.Mode:
            return await EchoUpstream.RunAsync(cancel.Token);

        case PolicyBenchmarks.Name:
            return PolicyBenchmarks.Run(args[1..]);

        case GatewaySettings.Name:
            var (gateway, gatewayError) = GatewaySettings.Parse(args);
            return gateway is null ? await UsageAsync(gatewayError) : await GatewayBenchmark.RunAsync(gateway, cancel.Token);

        case GatedSettings.Name:
            var (gated, gatedError) = GatedSettings.Parse(args);
            return gated is null ? await UsageAsync(gatedError) : await GatedBenchmark.RunAsync(gated, cancel.Token);

        case LoadSettings.Name:
            var (load, loadError) = LoadSettings.Parse(args);
            return load is null ? await UsageAsync(loadError) : await LoadBenchmark.RunAsync(load, cancel.Token);

        default:
            var (runtime, runtimeError) = BenchSettings.Parse(args);
            return runtime is null ? await UsageAsync(runtimeError) : await RuntimeBenchmark.RunAsync(runtime, cancel.Token);
    }
}
catch (OperationCanceledException) when (cancel.IsCancellationRequested)
{
    await Console.Error.WriteLineAsync("Cancelled.");
    return 130;
}

static async Task<int> UsageAsync(string? error)
{
    await Console.Error.WriteLineAsync($"{error}\n\n{BenchSettings.Usage}\n\n{GatewaySettings.Usage}\n\n{GatedSettings.Usage}\n\n{LoadSettings.Usage}\n\nUsage: ApprovalEngine.Benchmarks policy [BenchmarkDotNet options, e.g. --filter '*']");
    return 2;
}
