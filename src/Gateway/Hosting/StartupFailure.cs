using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Options;
using Npgsql;

namespace ApprovalEngine.Gateway.Hosting;

/// <summary>
/// Turns the failures an operator causes and can fix into a short message on stderr and exit code 1.
/// Anything else is a bug and keeps its stack trace.
/// </summary>
public static class StartupFailure
{
    public const int ExitCode = 1;

    public static bool IsExpected(Exception exception) => Unwrap(exception) is
        GatewayStartupException
        or Configuration.GatewayConfigException
        or OptionsValidationException
        or NpgsqlException
        or IOException { InnerException: AddressInUseException };

    public static int Report(Exception exception, TextWriter error)
    {
        switch (Unwrap(exception))
        {
            case OptionsValidationException invalid:
                error.WriteLine("Invalid configuration:");
                foreach (var failure in invalid.Failures)
                {
                    error.WriteLine($"  {failure}");
                }

                break;
            case NpgsqlException database:
                error.WriteLine($"Could not prepare the database: {Describe(database)}");
                break;
            case var other:
                error.WriteLine(other.Message);
                break;
        }

        return ExitCode;
    }

    private static Exception Unwrap(Exception exception) =>
        exception is AggregateException { InnerExceptions.Count: 1 } aggregate ? Unwrap(aggregate.InnerExceptions[0]) : exception;

    // Npgsql puts the useful part ("Connection refused") in the inner exception.
    private static string Describe(Exception exception) =>
        exception.InnerException is { } inner ? $"{exception.Message} ({inner.Message})" : exception.Message;
}
