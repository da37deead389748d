import MaestroMigration
import MaestroTestSupport
import Testing

@Suite("Lint gate on apply (real Postgres)")
struct LintGateTests {
  @Test("apply refuses a rule's hazard before changing anything, and applies its safe rewrite", arguments: LintCase.all)
  func gate(_ lintCase: LintCase) async throws {
    try await TestDatabase.with { db in
      let base = try MigrationFixtures.appending([MigrationFixtures.itemsTable])
      try await db.migrate(services: base)
      let version = try MigrationFixtures.baseVersion() + 1

      let hazardous = try MigrationFixtures.appending([("hazard", lintCase.positive)], base: base)
      let error = await #expect(throws: MigrationError.self) {
        try await db.withRunner(hazardous) { try await $0.migrate() }
      }
      guard case .refused(let reasons) = error else {
        Issue.record("expected refused, got \(String(describing: error))")
        return
      }
      #expect(reasons.contains { $0.contains("[\(lintCase.rule.rawValue)]") }, "\(reasons)")
      #expect(try await db.adminQuery("SELECT count(*)::text FROM migration.schema_migrations WHERE service = 'scheduler' AND version > \(version)") == ["0"])

      let safe = try MigrationFixtures.appending([("safe", lintCase.negative)], base: base)
      let report = try await db.withRunner(safe) { try await $0.migrate() }
      #expect(report.applied.map(\.name) == ["safe"])
      #expect(try await db.adminQuery("SELECT version::text FROM scheduler.maestro_schema_version") == ["\(version + 1)"])
    }
  }
}
