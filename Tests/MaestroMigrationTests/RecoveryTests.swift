import Foundation
import MaestroMigration
import MaestroTestSupport
import Testing

@Suite("Backups, rollback, validation checks and drift (real Postgres)")
struct RecoveryTests {
  @Test("apply with backup dumps the schema and records it; restore brings schema, data and ledger back")
  func backupRestoreRoundTrip() async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("maestro-backups-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try await TestDatabase.with { db in
      let base = try MigrationFixtures.appending([MigrationFixtures.itemsTable])
      try await db.migrate(services: base)
      let before = try MigrationFixtures.baseVersion() + 1
      let services = try MigrationFixtures.appending([(
        "destructive",
        """
        -- maestro:phase contract
        ALTER TABLE items DROP COLUMN legacy;
        DELETE FROM items WHERE id > 100;
        CREATE TABLE extra (id int);
        """
      )], base: base)
      let report = try await db.withRunner(services, backupDirectory: directory) { try await $0.apply(.init(phase: .contract, backup: true)) }
      let dump = try #require(report.backups.first)
      #expect(report.backups.count == 1)
      #expect(dump.service == "scheduler")
      #expect(dump.sizeBytes > 0)
      #expect(FileManager.default.fileExists(atPath: dump.path))
      #expect(report.applied.first?.backupPath == dump.path)
      #expect(try await db.adminQuery("SELECT backup_path FROM migration.schema_migrations WHERE name = 'destructive'") == [dump.path])
      #expect(try await db.adminQuery("SELECT count(*)::text FROM scheduler.items") == ["100"])

      let recorded = try await db.withRunner(services, backupDirectory: directory) { try await $0.backups(service: "scheduler") }
      let record = try #require(recorded.first)
      #expect(record.path == dump.path)
      #expect(record.ledgerVersion == before)

      let restored = try await db.withRunner(services, backupDirectory: directory) { try await $0.restore(backupID: record.id) }
      #expect(restored.ledgerVersion == before)
      #expect(try await db.adminQuery("SELECT count(*)::text FROM scheduler.items WHERE legacy = 'old'") == ["200"])
      #expect(try await db.adminQuery("SELECT coalesce(to_regclass('scheduler.extra')::text, 'absent')") == ["absent"])
      #expect(try await db.adminQuery("SELECT version::text FROM scheduler.maestro_schema_version") == ["\(before)"])
      #expect(try await db.adminQuery("SELECT count(*)::text FROM migration.schema_migrations WHERE name = 'destructive'") == ["0"])
      #expect(try await db.adminQuery("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'scheduler'") == [db.role(for: "scheduler")])
      let status = try await db.withRunner(services) { try await $0.status(service: "scheduler") }
      #expect(status.first?.drift == [])
      #expect(status.first?.pending.map(\.name) == ["destructive"])

      // The migration can be applied again after the restore.
      let again = try await db.withRunner(services) { try await $0.apply(.init(phase: .contract)) }
      #expect(again.applied.map(\.name) == ["destructive"])
    }
  }

  @Test("rollback runs down sections newest first and returns the ledger and schema version")
  func rollback() async throws {
    try await TestDatabase.with { db in
      let base = try MigrationFixtures.appending([MigrationFixtures.itemsTable])
      try await db.migrate(services: base)
      let before = try MigrationFixtures.baseVersion() + 1
      let services = try MigrationFixtures.appending([
        ("add_title", "ALTER TABLE items ADD COLUMN title text;\n-- maestro:down\nALTER TABLE items DROP COLUMN title;"),
        ("add_tags", "CREATE TABLE tags (item_id bigint, tag text);\n-- maestro:down\nDROP TABLE tags;"),
      ], base: base)
      try await db.migrate(services: services)

      let dryRun = try await db.withRunner(services) { try await $0.rollback(service: "scheduler", toVersion: before, dryRun: true) }
      #expect(dryRun.applied.map(\.name) == ["add_tags", "add_title"])
      #expect(try await db.adminQuery("SELECT coalesce(to_regclass('scheduler.tags')::text, 'absent')") == ["scheduler.tags"])

      let report = try await db.withRunner(services) { try await $0.rollback(service: "scheduler", toVersion: before) }
      #expect(report.applied.map(\.name) == ["add_tags", "add_title"])
      #expect(try await db.adminQuery("SELECT coalesce(to_regclass('scheduler.tags')::text, 'absent')") == ["absent"])
      #expect(try await db.adminQuery("SELECT count(*)::text FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'title'") == ["0"])
      #expect(try await db.adminQuery("SELECT max(version)::text FROM migration.schema_migrations WHERE service = 'scheduler'") == ["\(before)"])
      #expect(try await db.adminQuery("SELECT version::text FROM scheduler.maestro_schema_version") == ["\(before)"])

      // Re-applying works.
      let again = try await db.withRunner(services) { try await $0.migrate() }
      #expect(again.applied.map(\.name) == ["add_title", "add_tags"])
    }
  }

  @Test("rollback refuses, changing nothing, when a step has no down section")
  func rollbackRefused() async throws {
    try await TestDatabase.with { db in
      let base = try MigrationFixtures.appending([MigrationFixtures.itemsTable])
      try await db.migrate(services: base)
      let before = try MigrationFixtures.baseVersion() + 1
      let services = try MigrationFixtures.appending([
        ("add_title", "ALTER TABLE items ADD COLUMN title text;"),
        ("add_tags", "CREATE TABLE tags (item_id bigint);\n-- maestro:down\nDROP TABLE tags;"),
      ], base: base)
      try await db.migrate(services: services)
      let error = await #expect(throws: MigrationError.self) {
        try await db.withRunner(services) { try await $0.rollback(service: "scheduler", toVersion: before) }
      }
      #expect(error?.description.contains("_add_title.sql has no '-- maestro:down' section") == true, "\(error?.description ?? "")")
      #expect(try await db.adminQuery("SELECT coalesce(to_regclass('scheduler.tags')::text, 'absent')") == ["scheduler.tags"])
      #expect(try await db.adminQuery("SELECT count(*)::text FROM migration.schema_migrations WHERE service = 'scheduler' AND version > \(before)") == ["2"])
    }
  }

  @Test("a failed post-check rolls the migration back: no partial change")
  func failedPostCheck() async throws {
    try await TestDatabase.with { db in
      let base = try MigrationFixtures.appending([MigrationFixtures.itemsTable])
      try await db.migrate(services: base)
      let before = try MigrationFixtures.baseVersion() + 1
      let services = try MigrationFixtures.appending([(
        "backfill",
        """
        -- maestro:pre-check SELECT count(*) = 200 FROM items
        -- maestro:post-check SELECT count(*) = 0 FROM items WHERE title IS NULL
        ALTER TABLE items ADD COLUMN title text;
        UPDATE items SET title = name WHERE id <= 150;
        """
      )], base: base)
      let error = await #expect(throws: MigrationError.self) {
        try await db.withRunner(services) { try await $0.migrate() }
      }
      guard case .checkFailed(_, let kind, let query, let result) = error else {
        Issue.record("expected checkFailed, got \(String(describing: error))")
        return
      }
      #expect(kind == "post-check")
      #expect(query == "SELECT count(*) = 0 FROM items WHERE title IS NULL")
      #expect(result == "false")
      #expect(try await db.adminQuery("SELECT count(*)::text FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'title'") == ["0"])
      #expect(try await db.adminQuery("SELECT version::text FROM scheduler.maestro_schema_version") == ["\(before)"])
      #expect(try await db.adminQuery("SELECT count(*)::text FROM migration.schema_migrations WHERE name = 'backfill'") == ["0"])
    }
  }

  @Test("a failed pre-check stops the migration before any statement runs")
  func failedPreCheck() async throws {
    try await TestDatabase.with { db in
      let base = try MigrationFixtures.appending([MigrationFixtures.itemsTable])
      try await db.migrate(services: base)
      let services = try MigrationFixtures.appending([(
        "guarded",
        "-- maestro:pre-check SELECT NOT EXISTS (SELECT 1 FROM items WHERE owner_id IS NOT NULL)\nCREATE TABLE guarded (id int);"
      )], base: base)
      let error = await #expect(throws: MigrationError.self) {
        try await db.withRunner(services) { try await $0.migrate() }
      }
      #expect(error?.description.contains("pre-check") == true)
      #expect(try await db.adminQuery("SELECT coalesce(to_regclass('scheduler.guarded')::text, 'absent')") == ["absent"])
    }
  }

  @Test("status reports drift: a table or column the ledger expects is missing")
  func drift() async throws {
    try await TestDatabase.with { db in
      let services = try MigrationFixtures.appending([
        MigrationFixtures.itemsTable,
        ("add_title", "ALTER TABLE items ADD COLUMN title text;\nCREATE INDEX CONCURRENTLY items_title_idx ON items (title);"),
      ])
      try await db.migrate(services: services)
      let clean = try await db.withRunner(services) { try await $0.status(service: nil) }
      let cleanDrift = clean.flatMap(\.drift)
      #expect(cleanDrift.isEmpty, "\(cleanDrift)")

      try await db.adminExecute(
        "ALTER TABLE scheduler.items DROP COLUMN title",
        "DROP TABLE scheduler.owners",
        "DROP TABLE workflow.timers"
      )
      let statuses = try await db.withRunner(services) { try await $0.status(service: nil) }
      let scheduler = try #require(statuses.first { $0.service.name == "scheduler" })
      #expect(scheduler.drift.contains { $0.kind == .missingColumn && $0.object == "scheduler.items.title" }, "\(scheduler.drift)")
      #expect(scheduler.drift.contains { $0.kind == .missingTable && $0.object == "scheduler.owners" })
      #expect(scheduler.drift.contains { $0.kind == .missingIndex && $0.object == "scheduler.items_title_idx" })
      let workflow = try #require(statuses.first { $0.service.name == "workflow-service" })
      #expect(workflow.drift.map(\.object) == ["workflow.timers"])
      #expect(statuses.first { $0.service.name == "auth-gateway" }?.drift == [])
    }
  }
}
