using System.CommandLine;
using System.Text.Json.Nodes;
using ApprovalEngine.Gateway.Configuration;

namespace ApprovalEngine.Cli;

/// <summary>
/// <c>config validate</c>: the gateway's own loader, offline, so the CLI accepts exactly what the gateway accepts and
/// reports every error with file:line:col. Secret references are resolved as the gateway would, from this
/// process's environment and files.
/// </summary>
internal static class ConfigCommands
{
    public static Command Build(CliContext context)
    {
        var config = new Command("config", "The gateway's configuration file");
        var file = new Argument<string>("file") { Description = "The gateway's YAML configuration" };
        var validate = new Command("validate", "Check a configuration file without starting a gateway; every error is listed as file:line:col (exit code 7)") { file };
        validate.SetRun(context, async (result, _) =>
        {
            var path = result.GetRequiredValue(file);
            var loaded = GatewayConfigLoader.Load(path, context.Host.Environment);
            if (context.IsJson(result))
            {
                Output.Json(context.Out, new JsonObject
                {
                    ["file"] = path,
                    ["valid"] = loaded.Config is not null,
                    ["errors"] = new JsonArray([.. loaded.Errors.Select(e => (JsonNode)new JsonObject
                    {
                        ["file"] = e.File, ["line"] = e.Line, ["column"] = e.Column, ["field"] = e.Field, ["message"] = e.Message,
                    })]),
                });
            }
            else if (loaded.Config is { } valid)
            {
                await context.Out.WriteLineAsync($"{path}: valid ({valid.Upstreams.Count} upstreams, {valid.Agents.Count} agents, {valid.Bundles.Count} bundles, "
                    + $"{valid.Users.Count} users, {valid.Policy.Rules.Count} policy rules).");
            }
            else
            {
                foreach (var error in loaded.Errors)
                {
                    await context.Error.WriteLineAsync(error.ToString());
                }

                await context.Error.WriteLineAsync($"{path}: {loaded.Errors.Count} error(s).");
            }

            return loaded.Config is null ? ExitCodes.ConfigInvalid : ExitCodes.Ok;
        });
        config.Subcommands.Add(validate);
        return config;
    }
}
