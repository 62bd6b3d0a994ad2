namespace ApprovalEngine.Benchmarks.Phases;

/// <summary>One bounded part of the run; it reports its figures through <see cref="BenchContext.Report"/>.</summary>
public interface IBenchPhase
{
    string Number { get; }

    string Title { get; }

    Task RunAsync(BenchContext context, CancellationToken ct);
}
