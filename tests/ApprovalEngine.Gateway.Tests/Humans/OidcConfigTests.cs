using ApprovalEngine.Gateway.Humans;
using ApprovalEngine.Gateway.Tests.Configuration;

namespace ApprovalEngine.Gateway.Tests.Humans;

public sealed class OidcConfigTests
{
    [Fact]
    public void Parse_MinimalOidc_DefaultsTheMetadataUrlAndClaims()
    {
        var result = ConfigTestFiles.Parse("""
            oidc:
              issuer: https://idp.example.com/realms/ops/
              audience: approval-engine
            """);

        Assert.Empty(result.Errors);
        var oidc = result.Config!.Oidc!;
        Assert.Equal("https://idp.example.com/realms/ops/", oidc.Issuer);
        Assert.Equal(new Uri("https://idp.example.com/realms/ops/.well-known/openid-configuration"), oidc.MetadataUrl);
        Assert.Equal("email", oidc.EmailClaim);
        Assert.Null(oidc.RolesClaim);
        Assert.Equal(TimeSpan.FromMinutes(2), oidc.ClockSkew);
    }

    [Fact]
    public void Parse_FullOidc_ReadsEveryField()
    {
        var result = ConfigTestFiles.Parse("""
            oidc:
              issuer: https://login.example.com/tenant/v2.0
              audience: api://approval-engine
              metadataUrl: https://login.example.com/tenant/v2.0/.well-known/openid-configuration
              emailClaim: preferred_username
              rolesClaim: groups
              roleMap: {g-approvers: approver, g-audit: auditor}
              clockSkew: 30s
            """);

        Assert.Empty(result.Errors);
        var oidc = result.Config!.Oidc!;
        Assert.Equal("preferred_username", oidc.EmailClaim);
        Assert.Equal("groups", oidc.RolesClaim);
        Assert.Equal(Role.Approver, oidc.RoleMap["g-approvers"]);
        Assert.Equal(Role.Auditor, oidc.RoleMap["g-audit"]);
        Assert.Equal(TimeSpan.FromSeconds(30), oidc.ClockSkew);
    }

    [Fact]
    public void Parse_BadOidc_ReportsEveryErrorWithItsLocation()
    {
        var result = ConfigTestFiles.Parse("""
            oidc:
              issuer: http://idp.example.com/realms/ops
              roleMap: {g-approvers: aprover}
              scopes: [openid]
            """);

        var errors = result.Errors.Select(error => error.ToString()).ToList();
        Assert.Contains(errors, error => error.StartsWith("gateway.yaml:2:11: oidc.issuer: must be an https URL (plain http only for an identity provider on a loopback address)", StringComparison.Ordinal));
        Assert.Contains("gateway.yaml:1:1: oidc.audience: is required", errors);
        Assert.Contains(errors, error => error.StartsWith("gateway.yaml:3:3: oidc.roleMap.g-approvers: must be one of: approver, auditor, admin", StringComparison.Ordinal));
        Assert.Contains("gateway.yaml:3:3: oidc.rolesClaim: is required with roleMap (the claim whose values roleMap maps, e.g. groups)", errors);
        Assert.Contains(errors, error => error.StartsWith("gateway.yaml:4:3: oidc.scopes:", StringComparison.Ordinal));
        Assert.Null(result.Config);
    }

    [Fact]
    public void Parse_LoopbackHttpIssuer_IsAccepted() =>
        Assert.Empty(ConfigTestFiles.Parse("""
            oidc:
              issuer: http://127.0.0.1:8080/realms/dev
              audience: approval-engine
            """).Errors);
}
