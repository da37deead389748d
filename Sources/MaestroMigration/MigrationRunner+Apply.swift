import Foundation
import Logging
import PostgresNIO

/// A statement's lock was not granted within `lock_timeout` (SQLSTATE 55P03).
struct LockNotGranted: Error {
  var line: Int
}

extension MigrationRunner {
  /// The timeouts `migration` runs under.
  func timeouts(for migration: Migration) -> (lock: Duration, statement: Duration) {
    (migration.lockTimeout ?? self.guardRails.lockTimeout, migration.statementTimeout ?? self.guardRails.statementTimeout)
  }

  /// Applies one migration, retrying it from the start (after its rollback) while its lock is
  /// not granted; records it in the ledger.
  func apply(
    _ migration: Migration,
    of service: ManagedService,
    backupPath: String?,
    on connection: PostgresConnection
  ) async throws -> AppliedMigration {
    let started = ContinuousClock.now
    self.logger.info(
      "applying migration",
      metadata: ["path": "\(migration.path)", "phase": "\(migration.phase.rawValue)", "transactional": "\(migration.transactional)"]
    )
    var retries = 0
    while true {
      do {
        if migration.transactional {
          try await self.applyInTransaction(migration, of: service, retries: retries, started: started, backupPath: backupPath, on: connection)
        } else {
          try await self.applyStatementByStatement(migration, of: service, retries: retries, started: started, backupPath: backupPath, on: connection)
        }
        return AppliedMigration(
          service: service.name, version: migration.version, name: migration.name, phase: migration.phase,
          durationMilliseconds: (ContinuousClock.now - started).milliseconds, lockRetries: retries, backupPath: backupPath
        )
      } catch let error as LockNotGranted {
        retries += 1
        guard retries <= self.guardRails.lockRetries else {
          throw MigrationError.lockNotGranted(path: migration.path, line: error.line, attempts: retries, lockTimeout: self.timeouts(for: migration).lock)
        }
        let pause = self.guardRails.backoff(attempt: retries)
        self.logger.warning(
          "lock not granted within lock_timeout; rolled back, retrying",
          metadata: ["path": "\(migration.path)", "line": "\(error.line)", "retry": "\(retries)", "backoff": "\(pause)"]
        )
        try await Task.sleep(for: pause)
      }
    }
  }

  private func applyInTransaction(
    _ migration: Migration,
    of service: ManagedService,
    retries: Int,
    started: ContinuousClock.Instant,
    backupPath: String?,
    on connection: PostgresConnection
  ) async throws {
    let timeouts = self.timeouts(for: migration)
    try await self.inTransaction(on: connection) { connection in
      try await self.execute("SET LOCAL lock_timeout = '\(timeouts.lock.milliseconds)ms'", on: connection)
      try await self.execute("SET LOCAL statement_timeout = '\(timeouts.statement.milliseconds)ms'", on: connection)
      try await self.asRole(of: service, on: connection) {
        try await self.runChecks(migration.preChecks, kind: "pre-check", of: migration, on: connection)
        for statement in migration.upStatements {
          try await self.run(statement, of: migration, on: connection)
        }
        try await self.runChecks(migration.postChecks, kind: "post-check", of: migration, on: connection)
        try await self.setSchemaVersion(migration.version, on: connection)
      }
      try await self.record(migration, of: service, retries: retries, started: started, backupPath: backupPath, on: connection)
    }
  }

  /// A migration with statements that cannot run in a transaction (CONCURRENTLY): each
  /// statement commits on its own and progress is recorded, so a failed run resumes after the
  /// last completed statement. An index a failed `CREATE INDEX CONCURRENTLY` left INVALID is
  /// dropped before the statement runs again.
  private func applyStatementByStatement(
    _ migration: Migration,
    of service: ManagedService,
    retries: Int,
    started: ContinuousClock.Instant,
    backupPath: String?,
    on connection: PostgresConnection
  ) async throws {
    let statements = migration.upStatements
    var done = 0
    let rows = try await connection.query(
      "SELECT checksum, statements_done FROM migration.schema_migration_progress WHERE service = \(service.name) AND version = \(migration.version)",
      logger: self.logger
    )
    for try await (checksum, completed) in rows.decode((String, Int).self) {
      guard checksum == migration.checksum else {
        throw MigrationError.invalidFile(
          path: migration.path,
          reason: "it was partly applied (\(completed) of its statements) from a different version of the file; restore that file to resume, or undo those statements and delete its row from migration.schema_migration_progress"
        )
      }
      done = completed
    }
    if done > 0 {
      self.logger.notice("resuming a partly applied migration", metadata: ["path": "\(migration.path)", "statements_done": "\(done)"])
    }
    let timeouts = self.timeouts(for: migration)
    let role = quoteIdentifier(self.roles.name(for: service.schema))
    try await self.execute("SET lock_timeout = '\(timeouts.lock.milliseconds)ms'", on: connection)
    try await self.execute("SET statement_timeout = '\(timeouts.statement.milliseconds)ms'", on: connection)
    do {
      if done == 0, !migration.preChecks.isEmpty {
        try await self.execute("SET ROLE \(role)", on: connection)
        try await self.execute("SET search_path = \(quoteIdentifier(service.schema))", on: connection)
        try await self.runChecks(migration.preChecks, kind: "pre-check", of: migration, on: connection)
        try await self.resetSession(on: connection, timeouts: false)
      }
      for (index, statement) in statements.enumerated() where index >= done {
        try await self.dropInvalidIndex(createdBy: statement.text, schema: service.schema, on: connection)
        try await self.execute("SET ROLE \(role)", on: connection)
        try await self.execute("SET search_path = \(quoteIdentifier(service.schema))", on: connection)
        try await self.run(statement, of: migration, on: connection)
        try await self.resetSession(on: connection, timeouts: false)
        _ = try await connection.query(
          """
          INSERT INTO migration.schema_migration_progress (service, version, checksum, statements_done)
          VALUES (\(service.name), \(migration.version), \(migration.checksum), \(index + 1))
          ON CONFLICT (service, version) DO UPDATE SET statements_done = excluded.statements_done, updated_at = now()
          """,
          logger: self.logger
        ).collect()
      }
      try await self.inTransaction(on: connection) { connection in
        try await self.asRole(of: service, on: connection) {
          try await self.setSchemaVersion(migration.version, on: connection)
        }
        try await self.record(migration, of: service, retries: retries, started: started, backupPath: backupPath, on: connection)
        _ = try await connection.query(
          "DELETE FROM migration.schema_migration_progress WHERE service = \(service.name) AND version = \(migration.version)",
          logger: self.logger
        ).collect()
      }
      try await self.resetSession(on: connection, timeouts: true)
    } catch {
      try? await self.resetSession(on: connection, timeouts: true)
      throw error
    }
  }

  private func resetSession(on connection: PostgresConnection, timeouts: Bool) async throws {
    try await self.execute("RESET ROLE", on: connection)
    try await self.execute("RESET search_path", on: connection)
    if timeouts {
      try await self.execute("RESET lock_timeout", on: connection)
      try await self.execute("RESET statement_timeout", on: connection)
    }
  }

  /// Before re-running `CREATE INDEX CONCURRENTLY name …`: drops `name` if a failed earlier run
  /// left it INVALID (it would otherwise make `IF NOT EXISTS` skip a useless index).
  private func dropInvalidIndex(createdBy statement: String, schema: String, on connection: PostgresConnection) async throws {
    guard case .createIndex(let name?, _, true)? = SchemaChange.parse(statement).first else { return }
    let rows = try await connection.query(
      """
      SELECT NOT i.indisvalid FROM pg_index i
      JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = \(schema) AND c.relname = \(name)
      """,
      logger: self.logger
    ).collect()
    guard try rows.first?.decode(Bool.self) == true else { return }
    self.logger.notice("dropping the invalid index an interrupted run left", metadata: ["index": "\(schema).\(name)"])
    try await self.execute("DROP INDEX CONCURRENTLY IF EXISTS \(quoteIdentifier(schema)).\(quoteIdentifier(name))", on: connection)
  }

  /// Executes one statement, mapping failures to ``MigrationError/statementFailed`` (or
  /// ``LockNotGranted`` for a lock timeout, which the caller retries).
  func run(_ statement: SQLStatementSplitter.Statement, of migration: Migration, on connection: PostgresConnection) async throws {
    do {
      try await self.execute(statement.text, on: connection)
    } catch let error as PSQLError {
      if error.serverInfo?[.sqlState] == "55P03" { throw LockNotGranted(line: statement.line) }
      throw MigrationError.statementFailed(
        path: migration.path,
        line: statement.line,
        message: error.serverInfo?[.message] ?? "\(error.code)"
      )
    }
  }

  /// Each query must return one row whose first column is true.
  func runChecks(_ checks: [String], kind: String, of migration: Migration, on connection: PostgresConnection) async throws {
    for check in checks {
      let result: String
      do {
        let rows = try await connection.query(PostgresQuery(unsafeSQL: check), logger: self.logger).collect()
        if rows.count != 1 {
          result = "\(rows.count) rows"
        } else {
          let cell = rows[rows.startIndex].first
          if cell?.bytes == nil {
            result = "NULL"
          } else if let value = try? cell?.decode(Bool.self) {
            if value { continue }
            result = "false"
          } else {
            result = "a non-boolean value"
          }
        }
      } catch let error as PSQLError {
        if error.serverInfo?[.sqlState] == "55P03" { throw LockNotGranted(line: 0) }
        result = "an error (\(error.serverInfo?[.message] ?? "\(error.code)"))"
      }
      throw MigrationError.checkFailed(path: migration.path, kind: kind, query: check, result: result)
    }
  }

  func setSchemaVersion(_ version: Int, on connection: PostgresConnection) async throws {
    _ = try await connection.query(
      "UPDATE maestro_schema_version SET version = \(version), updated_at = now()",
      logger: self.logger
    ).collect()
  }

  private func record(
    _ migration: Migration,
    of service: ManagedService,
    retries: Int,
    started: ContinuousClock.Instant,
    backupPath: String?,
    on connection: PostgresConnection
  ) async throws {
    let milliseconds = (ContinuousClock.now - started).milliseconds
    _ = try await connection.query(
      """
      INSERT INTO migration.schema_migrations
        (service, version, name, checksum, phase, duration_ms, applied_by, lock_retries, backup_path)
      VALUES (\(service.name), \(migration.version), \(migration.name), \(migration.checksum),
              \(migration.phase.rawValue), \(milliseconds), session_user || ' from ' || \(Self.runnerIdentity), \(retries), \(backupPath))
      """,
      logger: self.logger
    ).collect()
  }

  /// `<host> pid <pid> (<OS user>)`: which runner applied a migration (after the database role).
  static var runnerIdentity: String {
    let user = ProcessInfo.processInfo.environment["USER"].map { " (\($0))" } ?? ""
    return "\(ProcessInfo.processInfo.hostName) pid \(ProcessInfo.processInfo.processIdentifier)\(user)"
  }
}
