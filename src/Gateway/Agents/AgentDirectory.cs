using System.Diagnostics.CodeAnalysis;
using ApprovalEngine.Gateway.Configuration;

namespace ApprovalEngine.Gateway.Agents;

/// <summary>
/// Finds the agent a presented API key belongs to. Built from one configuration; build a new one when the
/// configuration changes. Each agent may have several keys (rotation).
/// </summary>
public sealed class AgentDirectory
{
    private readonly Dictionary<string, AgentConfig> byKeyHash = new(StringComparer.Ordinal);
    private readonly Dictionary<string, AgentConfig> byId;

    public AgentDirectory(GatewayConfig config)
    {
        byId = new Dictionary<string, AgentConfig>(config.Agents, StringComparer.Ordinal);
        foreach (var agent in config.Agents.Values)
        {
            foreach (var hash in agent.Keys)
            {
                // The validator rejects a hash shared by two agents; first wins should one slip through.
                byKeyHash.TryAdd(hash, agent);
            }
        }
    }

    public IReadOnlyCollection<AgentConfig> Agents => byId.Values;

    /// <summary>
    /// The agent whose key this is, or false. The lookup is by the key's SHA-256, so its timing reveals nothing
    /// useful about stored keys (an attacker controls only the pre-image).
    /// </summary>
    public bool TryFindByKey(string? presentedKey, [NotNullWhen(true)] out AgentConfig? agent)
    {
        if (string.IsNullOrEmpty(presentedKey))
        {
            agent = null;
            return false;
        }

        return byKeyHash.TryGetValue(ApiKeys.Hash(presentedKey), out agent);
    }

    public AgentConfig? FindById(string agentId) => byId.GetValueOrDefault(agentId);
}
