import MaestroMigration
import MaestroTestSupport
import Testing

/// One rule's positive (flagged) and negative (its safe rewrite, not flagged) case, on the
/// `items`/`owners` tables of ``MigrationFixtures/itemsTable`` (existing tables).
struct LintCase: Sendable, CustomTestStringConvertible {
  var rule: LintRule
  var positive: String
  var negative: String
  var testDescription: String { self.rule.rawValue }

  static let all: [LintCase] = [
    LintCase(
      rule: .requireConcurrentIndex,
      positive: "CREATE INDEX items_name_idx ON items (name);",
      negative: "CREATE INDEX CONCURRENTLY IF NOT EXISTS items_name_idx ON items (name);"
    ),
    LintCase(
      rule: .volatileDefault,
      positive: "ALTER TABLE items ADD COLUMN token uuid DEFAULT gen_random_uuid();",
      negative: "ALTER TABLE items ADD COLUMN added_at timestamptz DEFAULT now();"
    ),
    LintCase(
      rule: .notNullWithoutCheck,
      positive: "ALTER TABLE items ALTER COLUMN name SET NOT NULL;",
      negative: """
        ALTER TABLE items ADD CONSTRAINT items_name_not_null CHECK (name IS NOT NULL) NOT VALID;
        ALTER TABLE items VALIDATE CONSTRAINT items_name_not_null;
        ALTER TABLE items ALTER COLUMN name SET NOT NULL;
        """
    ),
    LintCase(
      rule: .tableRewrite,
      positive: "ALTER TABLE items ALTER COLUMN owner_id TYPE text;",
      negative: "ALTER TABLE items ADD COLUMN owner_ref text;"
    ),
    LintCase(
      rule: .missingLockTimeout,
      positive: "SET lock_timeout = 0;\nALTER TABLE items ADD COLUMN note text;",
      negative: "ALTER TABLE items ADD COLUMN note text;"
    ),
    LintCase(
      rule: .dropInExpand,
      positive: "-- maestro:phase expand\nALTER TABLE items DROP COLUMN legacy;",
      negative: "-- maestro:phase contract\nALTER TABLE items DROP COLUMN legacy;"
    ),
    LintCase(
      rule: .fkWithoutNotValid,
      positive: "ALTER TABLE items ADD CONSTRAINT items_owner_fk FOREIGN KEY (owner_id) REFERENCES owners (id);",
      negative: """
        ALTER TABLE items ADD CONSTRAINT items_owner_fk FOREIGN KEY (owner_id) REFERENCES owners (id) NOT VALID;
        ALTER TABLE items VALIDATE CONSTRAINT items_owner_fk;
        """
    ),
  ]
}

@Suite("Migration linter")
struct MigrationLinterTests {
  static func migration(_ contents: String, version: Int = 2) throws -> Migration {
    let name = String(format: "%04d_case.sql", version)
    return try Migration(service: "scheduler", fileName: name, path: "scheduler/migrations/\(name)", contents: contents)
  }

  @Test("each rule flags its hazard with the line and a safe rewrite", arguments: LintCase.all)
  func positive(_ lintCase: LintCase) throws {
    let contents = "-- leading comment\n\n" + lintCase.positive
    let findings = MigrationLinter().lint(try Self.migration(contents))
    let finding = try #require(findings.first { $0.rule == lintCase.rule }, "\(findings)")
    #expect(finding.blocks)
    #expect(finding.severity == .error)
    #expect(!finding.suggestion.isEmpty)
    #expect(finding.file == "scheduler/migrations/0002_case.sql")
    // The statement's own line in the file (after the two leading lines and any directive).
    let statementLine = contents.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
      .last { !$0.element.hasPrefix("--") && !$0.element.isEmpty }.map { $0.offset + 1 }
    #expect(finding.line == statementLine)
  }

  @Test("each rule's safe rewrite is not flagged", arguments: LintCase.all)
  func negative(_ lintCase: LintCase) throws {
    let findings = MigrationLinter().lint(try Self.migration(lintCase.negative))
    #expect(findings.isEmpty, "\(findings)")
  }

  @Test("the index suggestion is the statement itself, made concurrent")
  func indexSuggestion() {
    let finding = MigrationLinter().lint(sql: "CREATE UNIQUE INDEX items_name_uidx\n  ON items (lower(name)) WHERE owner_id IS NOT NULL").first
    #expect(finding?.suggestion.hasPrefix("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS items_name_uidx ON items (lower(name)) WHERE owner_id IS NOT NULL;") == true, "\(finding?.suggestion ?? "")")
  }

  @Test("hazards on a table created by the same migration are not flagged")
  func newTableIsSafe() throws {
    let findings = MigrationLinter().lint(try Self.migration("""
      CREATE TABLE fresh (id bigint PRIMARY KEY, name text);
      CREATE INDEX fresh_name_idx ON fresh (name);
      ALTER TABLE fresh ALTER COLUMN name SET NOT NULL;
      ALTER TABLE fresh ADD COLUMN token uuid DEFAULT gen_random_uuid();
      ALTER TABLE fresh ALTER COLUMN id TYPE numeric;
      """))
    #expect(findings.isEmpty, "\(findings)")
  }

  @Test("a waiver with a reason waives exactly the next statement's rule")
  func waiver() throws {
    let migration = try Self.migration("""
      -- maestro:lint-waive require-concurrent-index: items holds at most 200 rows in every deployment
      CREATE INDEX items_name_idx ON items (name);
      CREATE INDEX items_owner_idx ON items (owner_id);
      """)
    let findings = MigrationLinter().lint(migration)
    #expect(findings.count == 2)
    #expect(findings.first { $0.line == 2 }?.waived == true)
    #expect(findings.first { $0.line == 2 }?.waiverReason == "items holds at most 200 rows in every deployment")
    #expect(findings.first { $0.line == 3 }?.blocks == true)
  }

  @Test(
    "a waiver without a reason or for an unknown rule is an invalid file",
    arguments: [
      ("-- maestro:lint-waive require-concurrent-index\nSELECT 1", "lint-waive <rule>: <reason>"),
      ("-- maestro:lint-waive require-concurrent-index: ok\nSELECT 1", "needs a reason"),
      ("-- maestro:lint-waive no-such-rule: because it is fine really\nSELECT 1", "unknown lint rule"),
    ]
  )
  func invalidWaiver(contents: String, reason: String) {
    let error = #expect(throws: MigrationError.self) { try Self.migration(contents) }
    #expect(error?.description.contains(reason) == true, "\(error?.description ?? "")")
  }

  @Test("a lock-timeout directive of 0 makes every ALTER TABLE on an existing table a finding")
  func lockTimeoutDirective() throws {
    let findings = MigrationLinter().lint(try Self.migration("-- maestro:lock-timeout 0\nALTER TABLE items ADD COLUMN note text;"))
    #expect(findings.map(\.rule) == [.missingLockTimeout])
    #expect(MigrationLinter(defaultLockTimeout: nil).lint(sql: "ALTER TABLE items ADD COLUMN note text").map(\.rule) == [.missingLockTimeout])
  }

  @Test("more hazards: column-level REFERENCES, serial columns, renames and drops of tables")
  func moreHazards() throws {
    let linter = MigrationLinter()
    #expect(linter.lint(sql: "ALTER TABLE items ADD COLUMN owner2 bigint REFERENCES owners (id)").map(\.rule) == [.fkWithoutNotValid])
    #expect(linter.lint(sql: "ALTER TABLE items ADD COLUMN seq bigserial").map(\.rule) == [.volatileDefault])
    #expect(linter.lint(sql: "ALTER TABLE items ADD COLUMN required text NOT NULL").map(\.rule) == [.notNullWithoutCheck])
    #expect(linter.lint(sql: "ALTER TABLE items RENAME COLUMN name TO title").map(\.rule) == [.dropInExpand])
    #expect(linter.lint(sql: "ALTER TABLE items RENAME TO things").map(\.rule) == [.dropInExpand])
    #expect(linter.lint(sql: "DROP TABLE items").map(\.rule) == [.dropInExpand])
    #expect(linter.lint(sql: "VACUUM FULL items").map(\.rule) == [.tableRewrite])
    #expect(linter.lint(sql: "ALTER TABLE items ADD COLUMN flag boolean NOT NULL DEFAULT false").isEmpty)
  }

  @Test("a CONCURRENTLY migration is non-transactional and may not have a post-check")
  func nonTransactional() throws {
    #expect(try Self.migration("CREATE INDEX CONCURRENTLY i ON items (name);").transactional == false)
    #expect(try Self.migration("CREATE INDEX i ON items (name);").transactional == true)
    let error = #expect(throws: MigrationError.self) {
      try Self.migration("-- maestro:post-check SELECT true\nCREATE INDEX CONCURRENTLY i ON items (name);")
    }
    #expect(error?.description.contains("post-check needs a transactional migration") == true)
  }

  @Test("every migration in the repository passes lint (fix the hazard or waive it with a reason)")
  func repositoryPasses() throws {
    let services = try ManagedService.loadAll(root: TestEnvironment.servicesRoot)
    let linter = MigrationLinter()
    var linted = 0
    for service in services {
      linted += service.migrations.count
      for finding in linter.lint(service) where finding.blocks {
        Issue.record("\(finding)")
      }
    }
    #expect(linted >= 5)
  }
}
