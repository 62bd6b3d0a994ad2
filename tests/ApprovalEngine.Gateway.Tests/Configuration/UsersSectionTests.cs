using ApprovalEngine.Gateway.Configuration;
using ApprovalEngine.Gateway.Humans;

namespace ApprovalEngine.Gateway.Tests.Configuration;

public sealed class UsersSectionTests
{
    private const string Hash = "sha256:605ba8cebd23cbc9d8005ed3c569e1b316aa829555d36f8583ba76f96750b6e4";
    private const string OtherHash = "sha256:108d1c6231ee9ebf13b222255ece1aa2762c43e55ee9f79d4cf068e093ac5f3c";

    // Each document has exactly one problem: (case, yaml, line, column, field, part of the message).
    public static TheoryData<string, string, int, int, string, string> SingleErrors => new()
    {
        { "unknown section, suggested", "user: {}\n", 1, 1, "user", "did you mean \"users\"?" },
        { "not a mapping", "users: [alice@example.com]\n", 1, 8, "users", "expected a mapping, found a list" },
        { "key not an email", "users:\n  alice:\n    roles: [admin]\n", 2, 3, "users.alice", "the key must be an email address (got \"alice\")" },
        { "email twice, other case", "users:\n  alice@example.com: {roles: [admin]}\n  Alice@Example.com: {roles: [auditor]}\n", 3, 3, "users.Alice@Example.com", "the same email as line 2 (emails are compared ignoring case)" },
        { "user without body", "users:\n  a@example.com:\n", 2, 3, "users.a@example.com", "a user needs at least roles (approver, auditor, admin)" },
        { "unknown field, suggested", $"users:\n  a@example.com:\n    roles: [admin]\n    token: [{Hash}]\n", 4, 5, "users.a@example.com.token", "did you mean \"tokens\"?" },
        { "missing roles", $"users:\n  a@example.com:\n    tokens: [{Hash}]\n", 2, 3, "users.a@example.com.roles", "is required (at least one of: approver, auditor, admin)" },
        { "empty roles", "users:\n  a@example.com:\n    roles: []\n", 3, 12, "users.a@example.com.roles", "needs at least one role: approver, auditor, admin" },
        { "roles not a list", "users:\n  a@example.com:\n    roles: admin\n", 3, 12, "users.a@example.com.roles", "expected a list, found a string" },
        { "unknown role, suggested", "users:\n  a@example.com:\n    roles: [aprover]\n", 3, 13, "users.a@example.com.roles[0]", "must be one of: approver, auditor, admin; did you mean \"approver\"? (got \"aprover\")" },
        { "role in capitals", "users:\n  a@example.com:\n    roles: [auditor, Admin]\n", 3, 22, "users.a@example.com.roles[1]", "did you mean \"admin\"?" },
        { "unknown role, listed", "users:\n  a@example.com:\n    roles: [boss]\n", 3, 13, "users.a@example.com.roles[0]", "must be one of: approver, auditor, admin (got \"boss\")" },
        { "role twice", "users:\n  a@example.com:\n    roles: [admin, admin]\n", 3, 20, "users.a@example.com.roles[1]", "role \"admin\" is listed twice" },
        { "bad token hash", "users:\n  a@example.com:\n    roles: [admin]\n    tokens: [sha256:ABC]\n", 4, 14, "users.a@example.com.tokens[0]", "must be a token hash: sha256: followed by 64 lowercase hex digits" },
        { "tokens not a list", $"users:\n  a@example.com:\n    roles: [admin]\n    tokens: {Hash}\n", 4, 13, "users.a@example.com.tokens", "expected a list, found a string" },
        { "token hash twice", $"users:\n  a@example.com:\n    roles: [admin]\n    tokens: [{Hash}, {Hash}]\n", 4, 87, "users.a@example.com.tokens[1]", "the same token hash is listed twice" },
        { "token hash of another user", $"users:\n  a@example.com:\n    roles: [admin]\n    tokens: [{Hash}]\n  b@example.com:\n    roles: [auditor]\n    tokens: [{OtherHash}, {Hash}]\n", 7, 87, "users.b@example.com.tokens[1]", "this hash is already a token of user \"a@example.com\"; one hash identifies exactly one agent or person" },
        { "token hash of an agent key", $"agents:\n  bot:\n    owner: a@example.com\n    keys: [{Hash}]\nusers:\n  a@example.com:\n    roles: [admin]\n    tokens: [{Hash}]\n", 8, 14, "users.a@example.com.tokens[0]", "this hash is already a key of agent \"bot\"" },
    };

    [Theory]
    [MemberData(nameof(SingleErrors))]
    public void Parse_OneProblem_ReportsItsPositionAndField(string name, string yaml, int line, int column, string field, string message)
    {
        var result = ConfigTestFiles.Parse(yaml);

        Assert.Null(result.Config);
        var error = Assert.Single(result.Errors);
        Assert.True(error.Line == line && error.Column == column && error.Field == field, $"{name}: got {error}");
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_Users_MapsEmailRolesAndTokens()
    {
        var result = ConfigTestFiles.Parse($"""
            users:
              Alice@Example.com:
                roles: [approver, admin]
                tokens: [{Hash}, {OtherHash}]
              bob@example.com:
                roles: [auditor]
                tokens: []
              carol@example.com:
                roles: [approver]
            """);

        Assert.Empty(result.Errors);
        var users = result.Config!.Users;
        var alice = users["alice@example.com"];
        Assert.Equal("Alice@Example.com", alice.Email);
        Assert.Equal([Role.Approver, Role.Admin], alice.Roles);
        Assert.Equal([Hash, OtherHash], alice.Tokens);
        Assert.Empty(users["BOB@example.com"].Tokens);
        Assert.Empty(users["carol@example.com"].Tokens);
    }

    [Fact]
    public void Parse_ApproverWithoutUserEntry_IsValid()
    {
        // Approvers may decide in Slack or Teams only; an API token is not required to be one.
        var result = ConfigTestFiles.Parse($"""
            approvers:
              platform:
                members: [alice@example.com, dave@example.com]
            users:
              alice@example.com:
                roles: [approver]
                tokens: [{Hash}]
            """);

        Assert.Empty(result.Errors);
        Assert.False(result.Config!.Users.ContainsKey("dave@example.com"));
    }

    [Theory]
    [InlineData("ae_user_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG")]
    [InlineData("ae_live_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG")]
    public void Parse_RawTokenInsteadOfHash_ReportsWithoutEchoingIt(string secret)
    {
        var result = ConfigTestFiles.Parse($"users:\n  a@example.com:\n    roles: [admin]\n    tokens: [{secret}]\n");

        var error = Assert.Single(result.Errors);
        Assert.Equal("users.a@example.com.tokens[0]", error.Field);
        Assert.Contains("not its hash", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(secret[8..], error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SeveralUserProblems_ReportsAllInFileOrder()
    {
        var result = ConfigTestFiles.Parse($"""
            agents:
              bot:
                owner: a@example.com
                keys: [{Hash}]
            users:
              alice:
                roles: [admin]
              b@example.com:
                roles: [adminn, auditor]
                tokens: [{Hash}]
              c@example.com:
                tokens: [sha256:0]
            """);

        Assert.Null(result.Config);
        Assert.Equal(
            [
                "gateway.yaml:6:3: users.alice",
                "gateway.yaml:9:13: users.b@example.com.roles[0]",
                "gateway.yaml:10:14: users.b@example.com.tokens[0]",
                "gateway.yaml:11:3: users.c@example.com.roles",
                "gateway.yaml:12:14: users.c@example.com.tokens[0]",
            ],
            result.Errors.Select(e => $"{e.File}:{e.Line}:{e.Column}: {e.Field}"));
    }
}
