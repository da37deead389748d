import Foundation
import Logging
import MaestroKit
import MaestroMigration
import MaestroTestSupport
import PostgresNIO
import Testing

@Suite("Migration runner (real Postgres)")
struct MigrationRunnerTests {
  static func countMigrations() throws -> Int {
    try ManagedService.loadAll(root: TestEnvironment.servicesRoot).reduce(0) { $0 + $1.migrations.count }
  }

  /// Rows of `sql` as the superuser of `db`, first column as text.
  static func adminQuery(_ db: TestDatabase, _ sql: String) async throws -> [String] {
    try await withRunningClient(try db.adminConfiguration()) { client in
      var values: [String] = []
      for try await value in try await client.query(PostgresQuery(unsafeSQL: sql)).decode(String.self) { values.append(value) }
      return values
    }
  }

  @Test("applies every migration, records it, and a second run is a no-op")
  func appliesAllThenNoOp() async throws {
    try await TestDatabase.with { db in
      let total = try Self.countMigrations()
      let first = try await db.migrate()
      #expect(first.applied.count == total)
      #expect(first.applied.first?.service == "migration-service")

      let ledger = try await Self.adminQuery(
        db, "SELECT service || ':' || version || ':' || phase || ':' || length(checksum) FROM migration.schema_migrations ORDER BY service, version"
      )
      #expect(ledger.count == total)
      #expect(ledger.contains("workflow-service:1:expand:64"))

      let latest = Dictionary(uniqueKeysWithValues: try ManagedService.loadAll(root: TestEnvironment.servicesRoot).map { ($0.schema, $0.migrations.map(\.version).max() ?? 0) })
      for schema in TestDatabase.schemas {
        let version = try await Self.adminQuery(db, "SELECT version::text FROM \(schema).maestro_schema_version")
        #expect(version == ["\(latest[schema] ?? 0)"], "\(schema)")
        let owner = try await Self.adminQuery(db, "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = '\(schema)'")
        #expect(owner == [db.role(for: schema)])
      }

      let second = try await db.migrate()
      #expect(second.applied.isEmpty)
      #expect(try await Self.adminQuery(db, "SELECT count(*)::text FROM migration.schema_migrations") == ["\(total)"])
    }
  }

  @Test("an applied migration that was edited is refused with a clear error")
  func editedMigrationRejected() async throws {
    try await TestDatabase.with { db in
      var services = try ManagedService.loadAll(root: TestEnvironment.servicesRoot)
      try await db.migrate(services: services)

      let index = try #require(services.firstIndex { $0.name == "scheduler" })
      let original = services[index].migrations[0]
      services[index].migrations[0] = try Migration(
        service: original.service,
        fileName: "0001_initial.sql",
        path: original.path,
        contents: original.up + "\n-- a harmless-looking edit\n"
      )
      let error = await #expect(throws: MigrationError.self) { try await db.migrate(services: services) }
      guard case .checksumMismatch(let path, _, _) = error else {
        Issue.record("expected checksumMismatch, got \(String(describing: error))")
        return
      }
      #expect(path == "scheduler/migrations/0001_initial.sql")
      #expect(error?.description.contains("add a new migration instead") == true)
    }
  }

  @Test("a failing migration is rolled back whole and reported with its line")
  func failingMigrationRollsBack() async throws {
    try await TestDatabase.with { db in
      var services = try ManagedService.loadAll(root: TestEnvironment.servicesRoot)
      try await db.migrate(services: services)
      let index = try #require(services.firstIndex { $0.name == "metrics-service" })
      let applied = services[index].migrations.map(\.version).max() ?? 0
      let fileName = String(format: "%04d_broken.sql", applied + 1)
      services[index].migrations.append(try Migration(
        service: "metrics-service",
        fileName: fileName,
        path: "metrics-service/migrations/\(fileName)",
        contents: "CREATE TABLE half_done (id int);\n\nALTER TABLE no_such_table ADD COLUMN x int;\n"
      ))
      let error = await #expect(throws: MigrationError.self) { try await db.migrate(services: services) }
      guard case .statementFailed(let path, let line, let message) = error else {
        Issue.record("expected statementFailed, got \(String(describing: error))")
        return
      }
      #expect(path.hasSuffix(fileName))
      #expect(line == 3)
      #expect(message.contains("no_such_table"))
      #expect(try await Self.adminQuery(db, "SELECT coalesce(to_regclass('metrics.half_done')::text, 'absent')") == ["absent"])
      #expect(try await Self.adminQuery(db, "SELECT version::text FROM metrics.maestro_schema_version") == ["\(applied)"])
    }
  }

  @Test("two runners started at once apply each migration exactly once")
  func concurrentRunners() async throws {
    try await TestDatabase.with { db in
      let total = try Self.countMigrations()
      async let first = db.migrate()
      async let second = db.migrate()
      let reports = try await [first, second]
      #expect(reports.map(\.applied.count).sorted() == [0, total])
      #expect(try await Self.adminQuery(db, "SELECT count(*)::text FROM migration.schema_migrations") == ["\(total)"])
    }
  }

  @Test(
    "each service role can use its own schema and nothing of another's",
    arguments: [("workflow", "auth"), ("auth", "workflow"), ("scheduler", "metrics"), ("metrics", "scheduler"), ("workflow", "migration")]
  )
  func roleIsolation(own: String, other: String) async throws {
    try await TestDatabase.with { db in
      try await db.migrate()
      try await withRunningClient(try db.serviceConfiguration(schema: own)) { client in
        // Its own schema: create, write, read.
        _ = try await client.query("CREATE TABLE isolation_probe (x int)").collect()
        _ = try await client.query("INSERT INTO isolation_probe VALUES (1)").collect()
        #expect(try await client.query("SELECT count(*) FROM isolation_probe").collect().count == 1)

        // Another's: no read, no write, no create — permission denied (42501) every time.
        for statement in [
          "SELECT * FROM \(other).maestro_schema_version",
          "UPDATE \(other).maestro_schema_version SET version = 0",
          "CREATE TABLE \(other).intruder (x int)",
          "CREATE TABLE public.intruder (x int)",
        ] {
          let error = await #expect(throws: PSQLError.self, "\(statement)") {
            _ = try await client.query(PostgresQuery(unsafeSQL: statement)).collect()
          }
          #expect(error?.serverInfo?[.sqlState] == "42501", "\(statement): \(error?.serverInfo?[.message] ?? "")")
        }
      }
    }
  }
}
