namespace ApprovalEngine.Gateway.Configuration;

internal static class UpstreamsSection
{
    private static readonly string[] StdioFields = ["command", "args", "env", "cwd"];
    private static readonly string[] HttpFields = ["url", "headers", "oauth"];
    private static readonly string[] Fields = ["type", .. StdioFields, .. HttpFields, "timeout", "idempotentTools"];
    private static readonly string[] OAuthFields = ["tokenUrl", "clientId", "clientSecret", "scope"];

    public static Dictionary<string, UpstreamConfig> Read(MappingView root, string separator)
    {
        var upstreams = new Dictionary<string, UpstreamConfig>(StringComparer.Ordinal);
        if (root.Child("upstreams") is not { } section)
        {
            return upstreams;
        }

        foreach (var (key, value) in section.Entries)
        {
            CheckName(section, key, separator);
            if (section.Reader.Mapping(value, section.PathOf(key.Value), key.Start, Fields) is { } upstream)
            {
                upstreams[key.Value] = ReadUpstream(key.Value, upstream);
            }
            else if (value is YScalar { IsNull: true })
            {
                section.Reader.Error(key.Start, section.PathOf(key.Value), "an upstream needs at least a type");
            }
        }

        return upstreams;
    }

    /// <summary>Names appear in aggregated tool names, so they must not contain the separator.</summary>
    public static void CheckName(MappingView section, YScalar key, string separator)
    {
        var path = section.PathOf(key.Value);
        if (Checks.Name(key.Value) is { } problem)
        {
            section.Reader.Error(key.Start, path, $"the name {problem} (got \"{key.Value}\")");
        }
        else if (key.Value.Contains(separator, StringComparison.Ordinal))
        {
            section.Reader.Error(key.Start, path, $"the name must not contain the tool separator \"{separator}\"");
        }
    }

    private static UpstreamConfig ReadUpstream(string name, MappingView upstream)
    {
        var kind = upstream.Choice("type", required: true, "stdio", "http");
        var isHttp = kind == "http";
        var isStdio = kind == "stdio";

        // Fields of the other kind would be silently ignored, which hides mistakes.
        if (isStdio || isHttp)
        {
            var (misplaced, other) = isStdio ? (HttpFields, "http") : (StdioFields, "stdio");
            foreach (var field in misplaced.Where(upstream.Has))
            {
                upstream.Reader.Error(upstream.KeyPosition(field), upstream.PathOf(field), $"applies only to {other} upstreams");
            }
        }

        var config = new UpstreamConfig
        {
            Name = name,
            Type = isHttp ? UpstreamType.Http : UpstreamType.Stdio,
            Timeout = upstream.Duration("timeout", UpstreamConfig.DefaultTimeout),
            IdempotentTools = upstream.Strings("idempotentTools", Checks.Glob),
        };

        if (isStdio)
        {
            if (!upstream.Has("command"))
            {
                upstream.Missing("command", "for a stdio upstream");
            }

            var cwd = upstream.String("cwd");
            return config with
            {
                Command = upstream.String("command"),
                Args = upstream.Strings("args"),
                Env = upstream.Map("env"),
                Cwd = cwd is null ? null : Path.GetFullPath(Path.Combine(upstream.Reader.BaseDirectory, cwd)),
            };
        }

        if (isHttp)
        {
            if (!upstream.Has("url"))
            {
                upstream.Missing("url", "for an http upstream");
            }

            return config with
            {
                Url = upstream.Url("url"),
                Headers = upstream.Map("headers"),
                OAuth = ReadOAuth(upstream),
            };
        }

        return config;
    }

    private static OAuthClientConfig? ReadOAuth(MappingView upstream)
    {
        if (upstream.Child("oauth", OAuthFields) is not { } oauth)
        {
            return null;
        }

        return new OAuthClientConfig
        {
            TokenUrl = oauth.Url("tokenUrl", required: true) ?? new Uri("http://invalid"),
            ClientId = oauth.String("clientId", required: true) ?? string.Empty,
            ClientSecret = oauth.String("clientSecret", required: true) ?? string.Empty,
            Scope = oauth.String("scope"),
        };
    }
}
