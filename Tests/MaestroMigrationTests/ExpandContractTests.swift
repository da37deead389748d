import Foundation
import Logging
import MaestroKit
import MaestroMigration
import MaestroTestSupport
import PostgresNIO
import Testing

@Suite("Expand/contract phases and schema expectations (real Postgres)")
struct ExpandContractTests {
  /// expand (add title), contract (drop legacy), expand (add note).
  static func services() throws -> [ManagedService] {
    try MigrationFixtures.appending([
      MigrationFixtures.itemsTable,
      ("add_title", "ALTER TABLE items ADD COLUMN title text;\n-- maestro:down\nALTER TABLE items DROP COLUMN title;"),
      ("drop_legacy", "-- maestro:phase contract\nALTER TABLE items DROP COLUMN legacy;"),
      ("add_note", "ALTER TABLE items ADD COLUMN note text;"),
    ])
  }

  @Test("expand stops before a contract; contract refuses while an expand is pending or an old instance runs")
  func ordering() async throws {
    try await TestDatabase.with { db in
      let services = try Self.services()
      let base = try MigrationFixtures.baseVersion()
      let (items, title, legacy, note) = (base + 1, base + 2, base + 3, base + 4)
      // The repository's migrations, then scheduler's up to the items table.
      try await db.migrate(services: try MigrationFixtures.repository())
      _ = try await db.withRunner(services) { try await $0.apply(.init(service: "scheduler", targetVersion: items)) }

      // Contract first: refused, the expand migration before it is pending.
      let early = await #expect(throws: MigrationError.self) {
        try await db.withRunner(services) { try await $0.apply(.init(phase: .contract)) }
      }
      #expect(early?.description.contains("apply --phase expand first") == true, "\(early?.description ?? "")")

      // Expand: applies add_title and stops at the contract migration.
      let expand = try await db.withRunner(services) { try await $0.apply(.init(phase: .expand)) }
      #expect(expand.applied.map(\.version) == [title])

      // Old code (knows only up to `title`) still runs: contract refused, naming the instance.
      try await Self.register(db, instance: "old-1", version: title)
      let plan = try await db.withRunner(services) { try await $0.plan(.init(phase: .contract, service: "scheduler")) }
      #expect(plan.first?.blockers.first?.contains("instance old-1 expects version \(title)") == true, "\(plan.first?.blockers ?? [])")
      let blocked = await #expect(throws: MigrationError.self) {
        try await db.withRunner(services) { try await $0.apply(.init(phase: .contract)) }
      }
      #expect(blocked?.description.contains("old-1") == true)
      #expect(try await db.adminQuery("SELECT count(*)::text FROM information_schema.columns WHERE table_schema = 'scheduler' AND table_name = 'items' AND column_name = 'legacy'") == ["1"])

      // New code deployed (knows `note`), old instance withdrawn: contract runs, then the next expand.
      try await Self.register(db, instance: "new-1", version: note)
      try await Self.withdraw(db, instance: "old-1")
      let contract = try await db.withRunner(services) { try await $0.apply(.init(phase: .contract)) }
      #expect(contract.applied.map(\.version) == [legacy])
      #expect(contract.applied.first?.phase == .contract)
      let next = try await db.withRunner(services) { try await $0.apply(.init(phase: .expand)) }
      #expect(next.applied.map(\.version) == [note])
      #expect(try await db.adminQuery("SELECT version::text FROM scheduler.maestro_schema_version") == ["\(note)"])
      #expect(try await db.adminQuery("SELECT string_agg(phase, ',' ORDER BY version) FROM migration.schema_migrations WHERE service = 'scheduler' AND version > \(items)") == ["expand,contract,expand"])
    }
  }

  @Test("an expired expectation does not block a contract migration")
  func expiredExpectation() async throws {
    try await TestDatabase.with { db in
      let services = try Self.services()
      let base = try MigrationFixtures.baseVersion()
      _ = try await db.withRunner(services) { try await $0.apply(.init(phase: .expand)) }
      try await Self.register(db, instance: "old-gone", version: base + 2)
      try await db.adminExecute("UPDATE migration.schema_expectations SET expires_at = now() - interval '1 second'")
      let contract = try await db.withRunner(services) { try await $0.apply(.init(phase: .contract)) }
      #expect(contract.applied.map(\.version) == [base + 3])
    }
  }

  @Test("a service instance registers through MaestroKit's registrar as its own role, and withdraws")
  func registrar() async throws {
    try await TestDatabase.with { db in
      try await db.migrate()
      var configuration = try db.serviceConfiguration(schema: "workflow")
      configuration.maxConnections = 1
      var logger = Logger(label: "test.registrar")
      logger.logLevel = .error
      let database = Database(configuration: configuration, logger: logger)
      try await withThrowingTaskGroup(of: Void.self) { (group: inout ThrowingTaskGroup<Void, any Error>) async throws -> Void in
        group.addTask { await database.client.run() }
        defer { group.cancelAll() }
        let registrar = SchemaExpectationRegistrar(database: database, version: 7, ttl: .seconds(60), instanceID: "wf-pod-1", logger: logger)
        #expect(await registrar.register())
        #expect(try await db.adminQuery("SELECT service || ':' || version || ':' || (expires_at > now() + interval '50 seconds') FROM migration.schema_expectations") == ["workflow-service:7:true"])
        await registrar.withdraw()
        #expect(try await db.adminQuery("SELECT count(*)::text FROM migration.schema_expectations") == ["0"])

        // The role can call the two functions and nothing else in the migration schema.
        let denied = await #expect(throws: PSQLError.self) {
          _ = try await database.client.query("SELECT * FROM migration.schema_expectations").collect()
        }
        #expect(denied?.serverInfo?[.sqlState] == "42501")
      }
    }
  }

  @Test("a role that is not a service's cannot register")
  func strangerRejected() async throws {
    try await TestDatabase.with { db in
      try await db.migrate()
      let error = await #expect(throws: PSQLError.self) {
        try await withRunningClient(try db.adminConfiguration()) { client in
          _ = try await client.query("SELECT * FROM migration.register_schema_expectation('x', 1, interval '1 minute')").collect()
        }
      }
      #expect(error?.serverInfo?[.message]?.contains("is not a Maestro service role") == true)
    }
  }

  static func register(_ db: TestDatabase, instance: String, version: Int) async throws {
    try await withRunningClient(try db.serviceConfiguration(schema: "scheduler")) { client in
      _ = try await client.query("SELECT * FROM migration.register_schema_expectation(\(instance), \(version)::integer, interval '5 minutes')").collect()
    }
  }

  static func withdraw(_ db: TestDatabase, instance: String) async throws {
    try await withRunningClient(try db.serviceConfiguration(schema: "scheduler")) { client in
      _ = try await client.query("SELECT migration.withdraw_schema_expectation(\(instance))").collect()
    }
  }
}
