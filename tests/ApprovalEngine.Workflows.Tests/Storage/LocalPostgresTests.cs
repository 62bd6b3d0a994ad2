using System.Globalization;
using System.Net;
using System.Net.Sockets;
using ApprovalEngine.Testing;
using ApprovalEngine.Workflows.Storage;
using Npgsql;

namespace ApprovalEngine.Workflows.Tests.Storage;

public sealed class LocalPostgresTests
{
    [Fact]
    public async Task StartAsync_TemporaryCluster_AcceptsQueriesOnLoopback()
    {
        await using var cluster = await LocalPostgres.StartAsync(new LocalPostgresOptions { Fsync = false });
        await using var dataSource = NpgsqlDataSource.Create(cluster.ConnectionString);

        await using var command = dataSource.CreateCommand(
            "SELECT current_database(), host(inet_server_addr()), current_setting('listen_addresses'), current_setting('fsync')");
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal("approval_engine", reader.GetString(0));
        Assert.Equal("127.0.0.1", reader.GetString(1));
        Assert.Equal("127.0.0.1", reader.GetString(2));
        Assert.Equal("off", reader.GetString(3));

        // Pid is the postmaster itself (setpriv execs), so stopping by pid reaches the server, not a wrapper.
        var pidFile = await File.ReadAllLinesAsync(Path.Combine(cluster.DataDirectory, "postmaster.pid"));
        Assert.Equal(cluster.Pid.ToString(CultureInfo.InvariantCulture), pidFile[0]);
    }

    [Fact]
    public async Task StopAsync_RunningClusterWithSession_LeavesNoProcessAndDisposeDeletesTempData()
    {
        var cluster = await LocalPostgres.StartAsync(new LocalPostgresOptions { Fsync = false });
        int backendPid;
        await using (var session = new NpgsqlConnection(cluster.ConnectionString + ";Pooling=false"))
        {
            await session.OpenAsync();
            backendPid = session.ProcessID;
            Assert.True(Directory.Exists($"/proc/{cluster.Pid}"));
            Assert.True(Directory.Exists($"/proc/{backendPid}"));

            await cluster.StopAsync();
            await cluster.StopAsync();
        }

        Assert.False(Directory.Exists($"/proc/{cluster.Pid}"));
        Assert.False(Directory.Exists($"/proc/{backendPid}"));

        await cluster.DisposeAsync();
        Assert.False(Directory.Exists(cluster.DataDirectory));
    }

    [Fact]
    public async Task Watchdog_OwnerGoneWithoutStopping_StopsServerAndDeletesTemporaryData()
    {
        await using var cluster = await LocalPostgres.StartAsync(new LocalPostgresOptions { Fsync = false });

        cluster.CloseWatchdogPipe();

        var deadline = DateTime.UtcNow.AddSeconds(20);
        while ((Directory.Exists($"/proc/{cluster.Pid}") || Directory.Exists(cluster.DataDirectory)) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.False(Directory.Exists($"/proc/{cluster.Pid}"));
        Assert.False(Directory.Exists(cluster.DataDirectory));
    }

    [Fact]
    public async Task StartAsync_PersistentDataDirectory_ReusesClusterWithDataAfterRestart()
    {
        var root = Directory.CreateTempSubdirectory("ae-pg-test-");
        try
        {
            var options = new LocalPostgresOptions { DataDirectory = Path.Combine(root.FullName, "data"), Fsync = false };
            int firstPid;
            await using (var first = await LocalPostgres.StartAsync(options))
            {
                firstPid = first.Pid;
                await using var dataSource = NpgsqlDataSource.Create(first.ConnectionString);
                await using var write = dataSource.CreateCommand("CREATE TABLE kept (value text); INSERT INTO kept VALUES ('survives restart')");
                await write.ExecuteNonQueryAsync();
            }

            Assert.False(Directory.Exists($"/proc/{firstPid}"));
            Assert.True(File.Exists(Path.Combine(options.DataDirectory, "PG_VERSION")));

            await using var second = await LocalPostgres.StartAsync(options);
            Assert.Equal(options.DataDirectory, second.DataDirectory);
            await using var reopened = NpgsqlDataSource.Create(second.ConnectionString);
            await using var read = reopened.CreateCommand("SELECT value FROM kept");
            Assert.Equal("survives restart", await read.ExecuteScalarAsync());
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task StartAsync_BinDirectoryWithoutBinaries_ThrowsActionableMessage()
    {
        var empty = Directory.CreateTempSubdirectory("ae-pg-bin-");
        try
        {
            var e = await Assert.ThrowsAsync<InvalidOperationException>(
                () => LocalPostgres.StartAsync(new LocalPostgresOptions { BinDirectory = empty.FullName }));

            Assert.Contains(empty.FullName, e.Message);
            AssertActionable(e.Message);
        }
        finally
        {
            empty.Delete(recursive: true);
        }
    }

    [Fact]
    public void FindBinaries_NothingOnPathNorUnderVersionedRoot_ThrowsActionableMessage()
    {
        var empty = Directory.CreateTempSubdirectory("ae-pg-bin-");
        try
        {
            var e = Assert.Throws<InvalidOperationException>(() => LocalPostgresBinaries.Find(null, empty.FullName, empty.FullName));
            AssertActionable(e.Message);
        }
        finally
        {
            empty.Delete(recursive: true);
        }
    }

    [Fact]
    public void FindBinaries_SymlinkOnPath_ReturnsRealBinDirectory()
    {
        var root = Directory.CreateTempSubdirectory("ae-pg-bin-");
        try
        {
            var real = FakeBinDirectory(Path.Combine(root.FullName, "lib", "15", "bin"));
            var linked = Directory.CreateDirectory(Path.Combine(root.FullName, "local-bin")).FullName;
            File.CreateSymbolicLink(Path.Combine(linked, "postgres"), Path.Combine(real, "postgres"));

            Assert.Equal(real, LocalPostgresBinaries.Find(null, linked, Path.Combine(root.FullName, "none")));
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }

    [Fact]
    public void FindBinaries_SeveralVersionsUnderRoot_ReturnsHighestVersion()
    {
        var root = Directory.CreateTempSubdirectory("ae-pg-bin-");
        try
        {
            FakeBinDirectory(Path.Combine(root.FullName, "9.6", "bin"));
            var newest = FakeBinDirectory(Path.Combine(root.FullName, "15", "bin"));
            FakeBinDirectory(Path.Combine(root.FullName, "13", "bin"));
            Directory.CreateDirectory(Path.Combine(root.FullName, "16", "bin"));

            Assert.Equal(newest, LocalPostgresBinaries.Find(null, "", root.FullName));
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task StartAsync_ExplicitPortInUse_ThrowsWithServerLog()
    {
        using var occupant = new TcpListener(IPAddress.Loopback, 0);
        occupant.Start();
        var port = ((IPEndPoint)occupant.LocalEndpoint).Port;

        var e = await Assert.ThrowsAsync<InvalidOperationException>(
            () => LocalPostgres.StartAsync(new LocalPostgresOptions { Port = port, Fsync = false }));

        Assert.Contains("exited", e.Message);
        Assert.Contains("could not bind", e.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("1starts_with_digit")]
    [InlineData("has-dash")]
    [InlineData("x\"; DROP DATABASE postgres; --")]
    [InlineData("a234567890123456789012345678901234567890123456789012345678901234")]
    public async Task CreateDatabaseAsync_InvalidName_ThrowsArgumentException(string name)
    {
        var cluster = await TestPostgres.GetClusterAsync();

        await Assert.ThrowsAsync<ArgumentException>(() => cluster.CreateDatabaseAsync(name));
    }

    [Fact]
    public async Task CreateDatabaseAsync_ExistingDatabase_ReturnsSameConnectionString()
    {
        var cluster = await TestPostgres.GetClusterAsync();
        var name = $"twice_{Guid.NewGuid():N}";

        var first = await cluster.CreateDatabaseAsync(name);
        var second = await cluster.CreateDatabaseAsync(name);

        Assert.Equal(first, second);
        await using var dataSource = NpgsqlDataSource.Create(second);
        await using var command = dataSource.CreateCommand("SELECT current_database()");
        Assert.Equal(name, await command.ExecuteScalarAsync());
    }

    private static void AssertActionable(string message)
    {
        Assert.Contains("apt-get install postgresql", message);
        Assert.Contains("ConnectionStrings:ApprovalEngine", message);
        Assert.Contains("ConnectionStrings__ApprovalEngine", message);
    }

    private static string FakeBinDirectory(string path)
    {
        Directory.CreateDirectory(path);
        foreach (var program in new[] { "initdb", "postgres" })
        {
            File.WriteAllText(Path.Combine(path, program), "");
        }

        return path;
    }
}
