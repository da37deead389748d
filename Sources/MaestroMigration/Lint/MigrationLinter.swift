import Foundation

/// Flags locking and compatibility hazards in migrations, statement by statement, with the
/// line and a safe rewrite (see ``LintRule``). Pure: no database.
///
/// A table counts as *existing* unless the migration being linted created it (earlier in the
/// same file); hazards on a table created in the same migration are harmless (it is empty and
/// nobody else can see it until commit). Findings are waived per statement by a
/// `-- maestro:lint-waive <rule>: <reason>` comment above the statement.
public struct MigrationLinter: Sendable {
  /// The `lock_timeout` the runner sets when a migration names none (nil or zero: none).
  public var defaultLockTimeout: Duration?

  public init(defaultLockTimeout: Duration? = GuardRails.default.lockTimeout) {
    self.defaultLockTimeout = defaultLockTimeout
  }

  /// Functions whose value differs per row: a column default calling one rewrites the table.
  static let volatileFunctions: Set<String> = [
    "random", "gen_random_uuid", "uuid_generate_v1", "uuid_generate_v1mc", "uuid_generate_v4",
    "clock_timestamp", "timeofday", "nextval", "statement_timestamp", "txid_current", "setseed",
  ]
  static let serialTypes: Set<String> = ["serial", "bigserial", "smallserial", "serial2", "serial4", "serial8"]

  /// Every finding in every migration of `service`, in file order.
  public func lint(_ service: ManagedService) -> [LintFinding] {
    service.migrations.flatMap { self.lint($0) }
  }

  /// The findings of one migration: its forward statements, then its rollback's (where
  /// `drop-in-expand` does not apply: undoing an expand migration removes what it added).
  public func lint(_ migration: Migration) -> [LintFinding] {
    let context = Context(service: migration.service, file: migration.path, version: migration.version, phase: migration.phase)
    let lockTimeout = migration.lockTimeout ?? self.defaultLockTimeout
    var findings = self.lint(migration.upStatements, context: context, lockTimeout: lockTimeout, forward: true)
    findings += self.lint(migration.downStatements, context: context, lockTimeout: lockTimeout, forward: false)
    return Self.applyWaivers(migration.waivers, to: findings, statements: migration.upStatements + migration.downStatements)
  }

  /// Lints SQL given inline (the Lint RPC's `sql`), as an expand migration of `service`.
  public func lint(sql: String, service: String = "") -> [LintFinding] {
    let context = Context(service: service, file: "<inline>", version: 0, phase: .expand)
    let statements = SQLStatementSplitter.split(sql)
    let findings = self.lint(statements, context: context, lockTimeout: self.defaultLockTimeout, forward: true)
    let waivers = sql.split(separator: "\n", omittingEmptySubsequences: false).enumerated().compactMap { index, line -> Migration.Waiver? in
      let trimmed = line.trimmingCharacters(in: .whitespaces)
      guard trimmed.hasPrefix("-- maestro:lint-waive "), let colon = trimmed.firstIndex(of: ":", after: 11) else { return nil }
      let rule = trimmed[trimmed.index(trimmed.startIndex, offsetBy: 22)..<colon].trimmingCharacters(in: .whitespaces)
      let reason = trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces)
      guard !reason.isEmpty else { return nil }
      return Migration.Waiver(rule: rule, reason: reason, line: index + 1)
    }
    return Self.applyWaivers(waivers, to: findings, statements: statements)
  }

  struct Context {
    var service: String
    var file: String
    var version: Int
    var phase: Migration.Phase
  }

  private func lint(
    _ statements: [SQLStatementSplitter.Statement],
    context: Context,
    lockTimeout: Duration?,
    forward: Bool
  ) -> [LintFinding] {
    var created: Set<String> = []
    var model = SchemaModel()
    var lockTimeoutInForce = (lockTimeout ?? .zero) > .zero
    var findings: [LintFinding] = []
    for statement in statements {
      let changes = SchemaChange.parse(statement.text)
      func flag(_ rule: LintRule, _ message: String, _ suggestion: String) {
        guard !findings.contains(where: { $0.line == statement.line && $0.rule == rule }) else { return }
        findings.append(LintFinding(
          service: context.service, file: context.file, version: context.version, line: statement.line,
          rule: rule, severity: rule.severity, message: message, suggestion: suggestion
        ))
      }
      for change in changes {
        if case .setLockTimeout(let disabled) = change {
          lockTimeoutInForce = !disabled
          continue
        }
        let table = change.table ?? ""
        let existing = !table.isEmpty && !created.contains(table)
        if change.isAlterTable, existing, !lockTimeoutInForce {
          flag(
            .missingLockTimeout,
            "ALTER TABLE \(table) runs with no lock_timeout: while it waits for its ACCESS EXCLUSIVE lock, every query on \(table) queues behind it",
            "keep the runner's lock_timeout (do not disable it), or set one for this migration:\n-- maestro:lock-timeout 5s"
          )
        }
        switch change {
        case .createTable(let name, _):
          created.insert(name)
        case .renameTable(let name, let newName):
          if created.contains(name) { created.insert(newName) }
          if forward, context.phase == .expand, existing {
            flag(
              .dropInExpand,
              "renaming table \(name) in an expand migration breaks the code still running, which uses the old name",
              "create the new table (or a view named \(newName) over \(name)) in expand, dual-write and backfill, switch reads in the new code, and drop/rename \(name) in a contract migration"
            )
          }
        case .dropTable(let name):
          if forward, context.phase == .expand, existing {
            flag(
              .dropInExpand,
              "dropping table \(name) in an expand migration breaks the code still running, which may use it",
              "stop using \(name) in the new code, deploy it, then drop the table in a migration marked\n-- maestro:phase contract"
            )
          }
        case .dropColumn(let table, let column):
          if forward, context.phase == .expand, existing {
            flag(
              .dropInExpand,
              "dropping column \(table).\(column) in an expand migration breaks the code still running, which reads or writes it",
              "stop using \(table).\(column) in the new code, deploy it, then drop the column in a migration marked\n-- maestro:phase contract"
            )
          }
        case .renameColumn(let table, let column, let newName):
          if forward, context.phase == .expand, existing {
            flag(
              .dropInExpand,
              "renaming column \(table).\(column) to \(newName) in an expand migration breaks the code still running, which uses the old name",
              "expand: ALTER TABLE \(table) ADD COLUMN \(newName) <type>; backfill in batches and dual-write from the new code; contract (after the deploy): ALTER TABLE \(table) DROP COLUMN \(column);"
            )
          }
        case .createIndex(let name, let table, let concurrently):
          if !concurrently, existing {
            flag(
              .requireConcurrentIndex,
              "CREATE INDEX on existing table \(table) without CONCURRENTLY blocks every write to \(table) until the index is built",
              "\(Self.concurrentRewrite(of: statement.text, name: name, table: table)); in a migration of its own (it runs outside a transaction and resumes if interrupted)"
            )
          }
        case .addColumn(let table, let column):
          guard existing else { break }
          let definition = column.definition
          if let reason = Self.rewritingDefault(definition) {
            flag(
              .volatileDefault,
              "adding \(table).\(column.name) with \(reason) rewrites \(table) under an ACCESS EXCLUSIVE lock",
              "ALTER TABLE \(table) ADD COLUMN \(column.name) <type>; then ALTER TABLE \(table) ALTER COLUMN \(column.name) SET DEFAULT <expression>; and backfill existing rows in batches (UPDATE … WHERE id BETWEEN …)"
            )
          }
          if definition.contains(phrase: "not null"), !definition.contains(phrase: "default") {
            flag(
              .notNullWithoutCheck,
              "adding \(table).\(column.name) as NOT NULL without a default fails as soon as \(table) has a row",
              "add it nullable (or with a constant DEFAULT), backfill, add CHECK (\(column.name) IS NOT NULL) NOT VALID, VALIDATE it, then SET NOT NULL"
            )
          }
          if definition.contains(phrase: "references") {
            flag(
              .fkWithoutNotValid,
              "adding \(table).\(column.name) with REFERENCES validates the foreign key at once while locking both tables",
              "ALTER TABLE \(table) ADD COLUMN \(column.name) <type>;\nALTER TABLE \(table) ADD CONSTRAINT \(table)_\(column.name)_fkey FOREIGN KEY (\(column.name)) REFERENCES <table> (<column>) NOT VALID;\nALTER TABLE \(table) VALIDATE CONSTRAINT \(table)_\(column.name)_fkey;"
            )
          }
        case .setNotNull(let table, let column):
          if existing, !model.validatedNotNullChecks.contains("\(table).\(column)") {
            flag(
              .notNullWithoutCheck,
              "SET NOT NULL on \(table).\(column) scans the whole table under an ACCESS EXCLUSIVE lock",
              "ALTER TABLE \(table) ADD CONSTRAINT \(table)_\(column)_not_null CHECK (\(column) IS NOT NULL) NOT VALID;\nALTER TABLE \(table) VALIDATE CONSTRAINT \(table)_\(column)_not_null;\nALTER TABLE \(table) ALTER COLUMN \(column) SET NOT NULL;  -- no scan: the validated check proves it"
            )
          }
        case .alterColumnType(let table, let column):
          if existing {
            flag(
              .tableRewrite,
              "changing the type of \(table).\(column) rewrites \(table) (and its indexes) under an ACCESS EXCLUSIVE lock",
              "expand: add a new column of the new type, dual-write from the code, backfill in batches; contract: drop the old column. (Widening varchar(n) or to text does not rewrite: waive with that reason.)"
            )
          }
        case .rewriteTable(let table):
          flag(
            .tableRewrite,
            "\(table.map { "rewriting \($0)" } ?? "rewriting every table") (VACUUM FULL / CLUSTER) holds an ACCESS EXCLUSIVE lock for the whole rewrite",
            "use pg_repack (online), or plain VACUUM; never in a migration"
          )
        case .addConstraint(let table, let name, let definition):
          if existing, definition.contains(phrase: "foreign key") || definition.contains(phrase: "references"),
            !definition.contains(phrase: "not valid")
          {
            let constraint = name ?? "<name>"
            flag(
              .fkWithoutNotValid,
              "adding foreign key \(constraint) to \(table) without NOT VALID scans \(table) while locking it and the referenced table",
              "ALTER TABLE \(table) ADD CONSTRAINT \(constraint) … NOT VALID;\nALTER TABLE \(table) VALIDATE CONSTRAINT \(constraint);  -- separate statement: takes only SHARE UPDATE EXCLUSIVE"
            )
          }
        default:
          break
        }
        model.apply(change)
      }
    }
    return findings
  }

  /// `CREATE [UNIQUE] INDEX CONCURRENTLY IF NOT EXISTS …` with the rest of `statement` kept.
  static func concurrentRewrite(of statement: String, name: String?, table: String) -> String {
    let flat = statement.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    guard let index = flat.range(of: "index ", options: .caseInsensitive) else {
      return "CREATE INDEX CONCURRENTLY IF NOT EXISTS \(name ?? "<name>") ON \(table) (…)"
    }
    var rest = flat[index.upperBound...]
    if rest.lowercased().hasPrefix("if not exists ") { rest = rest.dropFirst("if not exists ".count) }
    return flat[..<index.upperBound] + "CONCURRENTLY IF NOT EXISTS " + rest
  }

  /// Why a column definition's default rewrites the table, or nil.
  static func rewritingDefault(_ definition: [SQLToken]) -> String? {
    if let type = definition.first, type.kind == .word, self.serialTypes.contains(type.text) {
      return "type \(type.text) (a nextval() default)"
    }
    if definition.contains(phrase: "generated always as identity") || definition.contains(phrase: "generated by default as identity") {
      return "an identity"
    }
    if definition.contains(phrase: "stored"), definition.contains(phrase: "generated always as") {
      return "a stored generated expression"
    }
    guard let start = definition.firstIndex(of: "default") else { return nil }
    for (offset, token) in definition[(start + 1)...].enumerated() {
      if token.kind == .word, ["not", "null", "check", "references", "constraint", "primary", "unique", "collate"].contains(token.text), offset > 0 {
        break
      }
      let next = start + 1 + offset + 1
      if token.kind == .word, self.volatileFunctions.contains(token.text), next < definition.count, definition[next].text == "(" {
        return "the volatile default \(token.text)()"
      }
    }
    return nil
  }

  /// Marks findings waived by a waiver comment placed above their statement.
  static func applyWaivers(
    _ waivers: [Migration.Waiver],
    to findings: [LintFinding],
    statements: [SQLStatementSplitter.Statement]
  ) -> [LintFinding] {
    let lines = statements.map(\.line).sorted()
    return findings.map { finding in
      var finding = finding
      for waiver in waivers where waiver.rule == finding.rule.rawValue {
        // The waiver belongs to the first statement starting after it.
        if let target = lines.first(where: { $0 > waiver.line }), target == finding.line {
          finding.waived = true
          finding.waiverReason = waiver.reason
        }
      }
      return finding
    }
  }
}

extension String {
  fileprivate func firstIndex(of character: Character, after offset: Int) -> String.Index? {
    guard offset < self.count else { return nil }
    return self[self.index(self.startIndex, offsetBy: offset)...].firstIndex(of: character)
  }
}
