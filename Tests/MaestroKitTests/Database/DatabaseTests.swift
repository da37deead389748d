import Logging
import MaestroCore
import MaestroKit
import MaestroTestSupport
import NIOPosix
import NIOCore
import Testing

@Suite("Database startup checks (real Postgres)")
struct DatabaseTests {
  func withDatabase(_ configuration: DatabaseConfiguration, _ body: @Sendable (Database) async throws -> Void) async throws {
    let database = Database(configuration: configuration, logger: Logger(label: "test"))
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { await database.client.run() }
      defer { group.cancelAll() }
      try await body(database)
    }
  }

  @Test("an unmigrated schema, a too-old schema and a current one are told apart")
  func schemaVersion() async throws {
    try await TestDatabase.with { db in
      // Before migrate the role does not even exist: connect as the superuser with the schema set.
      var admin = try db.adminConfiguration()
      admin.schema = "workflow"
      try await self.withDatabase(admin) { database in
        let error = await #expect(throws: MaestroError.self) { try await database.verifySchema(requiredVersion: 1) }
        #expect(error?.code == .failedPrecondition)
        #expect(error?.message.contains("not migrated") == true)
      }

      try await db.migrate()
      try await self.withDatabase(try db.serviceConfiguration(schema: "workflow")) { database in
        try await database.verifySchema(requiredVersion: 1)
        try await database.ping()
        let error = await #expect(throws: MaestroError.self) { try await database.verifySchema(requiredVersion: 99) }
        #expect(error?.message.contains("but this build needs 99") == true)
      }
    }
  }

  @Test("an unreachable database fails startup with UNAVAILABLE within the connect timeout")
  func unreachable() async throws {
    // A port that was free a moment ago: nothing listens there.
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
    let port = try #require(channel.localAddress?.port)
    try await channel.close()

    var configuration = DatabaseConfiguration(host: "127.0.0.1", port: port, username: "nobody", password: "x", database: "none", schema: "workflow")
    configuration.connectTimeout = .milliseconds(500)
    let started = ContinuousClock.now
    try await self.withDatabase(configuration) { database in
      let error = await #expect(throws: MaestroError.self) { try await database.verifySchema(requiredVersion: 1) }
      #expect(error?.code == .unavailable)
      #expect(error?.message.contains("cannot reach Postgres at 127.0.0.1:\(port)") == true)
    }
    #expect(ContinuousClock.now - started < .seconds(5))
  }

  @Test("wrong credentials are reported as such, without the password")
  func wrongPassword() async throws {
    try await TestDatabase.with { db in
      try await db.migrate()
      var configuration = try db.serviceConfiguration(schema: "auth")
      configuration.password = "definitely-wrong"
      configuration.connectTimeout = .seconds(2)
      try await self.withDatabase(configuration) { database in
        let error = await #expect(throws: MaestroError.self) { try await database.verifySchema(requiredVersion: 1) }
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains("definitely-wrong") == false)
      }
    }
  }
}
