using ApprovalEngine.Benchmarks.Gateway;
using ApprovalEngine.Gateway.Agents;
using ApprovalEngine.Gateway.Humans;

namespace ApprovalEngine.Benchmarks.Gated;

/// <summary>
/// The echo upstream and two gateway nodes on one database, configured alike: calls of <c>up__echo</c> whose text
/// starts with <c>gated-</c> need one approval from the ops group (held up to 10 minutes), every other call is
/// allowed, and ops@example.com may approve, deny and withdraw over the HTTP API with a generated token.
/// </summary>
public sealed class GatedCluster : IAsyncDisposable
{
    public const string GatedPrefix = "gated-";
    public const string Approver = "ops@example.com";

    private GatedCluster(Upstream upstream, GatewayProcess a, GatewayProcess b, string approverToken)
    {
        Upstream = upstream;
        A = a;
        B = b;
        ApproverToken = approverToken;
    }

    public Upstream Upstream { get; }

    /// <summary>The node that holds the calls.</summary>
    public GatewayProcess A { get; }

    /// <summary>The other node, for decisions across nodes.</summary>
    public GatewayProcess B { get; }

    public string ApproverToken { get; }

    public string Tool => GatewayProcess.ToolName(Upstream.Tool);

    public static async Task<GatedCluster> StartAsync(string connectionString, IReadOnlyDictionary<string, string> environment, string work, CancellationToken ct)
    {
        var upstream = await Upstream.StartAsync(UpstreamKind.Dotnet, work, ct);
        var key = ApiKeys.Generate();
        var token = UserTokens.Generate();
        var config = Config(GatewayProcess.ToolName(upstream.Tool), UserTokens.Hash(token), "approver, admin");
        GatewayProcess? a = null;
        try
        {
            // One after the other: each applies the schema migrations at start.
            a = await GatewayProcess.StartAsync(upstream.Endpoint, connectionString, environment, work, "gateway-a", key, config, ct);
            var b = await GatewayProcess.StartAsync(upstream.Endpoint, connectionString, environment, work, "gateway-b", key, config, ct);
            return new GatedCluster(upstream, a, b, token);
        }
        catch
        {
            if (a is not null)
            {
                await a.DisposeAsync();
            }

            await upstream.DisposeAsync();
            throw;
        }
    }

    /// <summary>Arguments of a call the policy holds; distinct texts are distinct approvals (the business key has their digest).</summary>
    public static Dictionary<string, object?> GatedArguments(string marker) => new() { ["text"] = GatedPrefix + marker };

    /// <summary>The last lines of every server's log, for an error message.</summary>
    public string Tails() => $"{A.Process.Tail()}\n\n{B.Process.Tail()}\n\n{Upstream.Process.Tail()}";

    public async ValueTask DisposeAsync()
    {
        await A.DisposeAsync();
        await B.DisposeAsync();
        await Upstream.DisposeAsync();
    }

    /// <summary>
    /// The policy both gated benchmarks run with: calls of <paramref name="tool"/> whose text starts with
    /// <see cref="GatedPrefix"/> wait for one approval by <see cref="Approver"/> (who has <paramref name="roles"/>), the rest
    /// are allowed.
    /// </summary>
    internal static string Config(string tool, string tokenHash, string roles) => $$"""
        approvers:
          ops:
            members: [{{Approver}}]
        users:
          {{Approver}}:
            roles: [{{roles}}]
            tokens: ["{{tokenHash}}"]
        policy:
          default: allow
          approvers: [ops]
          rules:
            - name: gate
              action: approve
              match:
                tools: ["{{tool}}"]
                arguments:
                  - {path: $.text, glob: "{{GatedPrefix}}*"}
              approval: {hold: 10m, timeout: 1h}

        """;
}
