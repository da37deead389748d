import MaestroMigration
import MaestroTestSupport
import Testing

@Suite("Migration files")
struct MigrationFileTests {
  @Test("parses version, name, phase, the forward part and the down section")
  func parses() throws {
    let migration = try Migration(
      service: "workflow-service",
      fileName: "0007_add_runs_index.sql",
      path: "workflow-service/migrations/0007_add_runs_index.sql",
      contents: """
        -- maestro:phase contract
        ALTER TABLE runs DROP COLUMN legacy;
        -- maestro:down
        ALTER TABLE runs ADD COLUMN legacy text;
        """
    )
    #expect(migration.version == 7)
    #expect(migration.name == "add_runs_index")
    #expect(migration.phase == .contract)
    #expect(migration.up.contains("DROP COLUMN"))
    #expect(!migration.up.contains("ADD COLUMN"))
    #expect(migration.down?.contains("ADD COLUMN legacy") == true)
    #expect(migration.checksum.count == 64)
  }

  @Test(
    "rejects malformed files with the reason",
    arguments: [
      ("1_x.sql", "SELECT 1", "4-digit"),
      ("0000_x.sql", "SELECT 1", "4-digit"),
      ("0001_Bad-Name.sql", "SELECT 1", "lowercase"),
      ("0001_x.txt", "SELECT 1", ".sql"),
      ("0001_x.sql", "-- maestro:phase sideways\nSELECT 1", "expand|contract"),
      ("0001_x.sql", "-- maestro:frobnicate\nSELECT 1", "unknown directive"),
      ("0001_x.sql", "-- only a comment", "no SQL statements"),
      ("0001_x.sql", "SELECT 1;\n-- maestro:down\n-- maestro:down", "second"),
    ]
  )
  func rejects(fileName: String, contents: String, reason: String) {
    let error = #expect(throws: MigrationError.self) {
      try Migration(service: "s", fileName: fileName, path: "s/migrations/\(fileName)", contents: contents)
    }
    #expect(error?.description.contains(reason) == true, "\(error?.description ?? "")")
  }

  @Test("every migration in the repository parses and has statements")
  func repository() throws {
    let services = try ManagedService.loadAll(root: TestEnvironment.servicesRoot)
    #expect(services.map(\.schema) == ["migration", "auth", "workflow", "scheduler", "metrics"])
    for service in services {
      #expect(!service.migrations.isEmpty, "\(service.name) has no migrations")
      #expect(service.migrations.map(\.version) == Array(1...service.migrations.count), "\(service.name) versions have gaps")
    }
  }
}
