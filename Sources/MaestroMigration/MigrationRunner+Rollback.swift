import Foundation
import Logging
import PostgresNIO

extension MigrationRunner {
  /// Rolls back every applied migration of `service` newer than `toVersion`, newest first, by
  /// running their `-- maestro:down` sections under the same guards as applying (lock, timeouts,
  /// retries, optional backup first). Refuses — before changing anything — when one of them has
  /// no down section or its down section has unwaived lint errors.
  public func rollback(service name: String, toVersion: Int, backup: Bool = false, dryRun: Bool = false) async throws -> Report {
    try self.validate(service: name)
    guard toVersion >= 0 else { throw MigrationError.invalidSetting("to_version must be 0 or more") }
    guard let service = self.services.first(where: { $0.name == name }) else { throw MigrationError.invalidSetting("unknown service '\(name)'") }
    return try await self.withLock { connection in
      try await self.bootstrap(on: connection)
      let ledger = try await Ledger.read(on: connection, logger: self.logger)
      try ledger.verify(against: self.services)
      let entries = ledger.entries.filter { $0.service == name && $0.version > toVersion }.sorted { $0.version > $1.version }
      let migrations = entries.compactMap { entry in service.migrations.first { $0.version == entry.version } }
      var reasons = migrations.filter { $0.down == nil }.map {
        "\($0.path) has no '-- maestro:down' section, so it cannot be rolled back"
      }
      for migration in migrations where migration.down != nil {
        for finding in self.linter.lint(migration) where finding.blocks && finding.line > migration.downMarkerLine {
          reasons.append("lint \(finding.file):\(finding.line) [\(finding.rule.rawValue)]: \(finding.message)")
        }
      }
      guard reasons.isEmpty else { throw MigrationError.refused(reasons) }
      var report = Report()
      report.applied = migrations.map {
        AppliedMigration(service: name, version: $0.version, name: $0.name, phase: $0.phase)
      }
      if dryRun || migrations.isEmpty { return report }
      var backupPath: String?
      if backup {
        let dump = try await self.backup(service, version: ledger.currentVersion(of: name), reason: "rollback", on: connection)
        report.backups.append(dump)
        backupPath = dump.path
      }
      report.applied = []
      var remaining = ledger.versions(of: name)
      for migration in migrations {
        remaining.remove(migration.version)
        let previous = remaining.filter { $0 < migration.version }.max() ?? 0
        var undone = try await self.rollBack(migration, of: service, toSchemaVersion: previous, on: connection)
        undone.backupPath = backupPath
        report.applied.append(undone)
      }
      return report
    }
  }

  private func rollBack(_ migration: Migration, of service: ManagedService, toSchemaVersion previous: Int, on connection: PostgresConnection) async throws -> AppliedMigration {
    let started = ContinuousClock.now
    let timeouts = self.timeouts(for: migration)
    self.logger.info("rolling back migration", metadata: ["path": "\(migration.path)"])
    var retries = 0
    while true {
      do {
        if migration.downTransactional {
          try await self.inTransaction(on: connection) { connection in
            try await self.execute("SET LOCAL lock_timeout = '\(timeouts.lock.milliseconds)ms'", on: connection)
            try await self.execute("SET LOCAL statement_timeout = '\(timeouts.statement.milliseconds)ms'", on: connection)
            try await self.asRole(of: service, on: connection) {
              for statement in migration.downStatements { try await self.run(statement, of: migration, on: connection) }
              try await self.setSchemaVersion(previous, on: connection)
            }
            try await self.forget(migration, of: service, on: connection)
          }
        } else {
          // Statement by statement (CONCURRENTLY): down sections should use IF EXISTS so a rerun
          // after a failure is safe.
          try await self.execute("SET lock_timeout = '\(timeouts.lock.milliseconds)ms'", on: connection)
          try await self.execute("SET statement_timeout = '\(timeouts.statement.milliseconds)ms'", on: connection)
          try await self.execute("SET ROLE \(quoteIdentifier(self.roles.name(for: service.schema)))", on: connection)
          try await self.execute("SET search_path = \(quoteIdentifier(service.schema))", on: connection)
          do {
            for statement in migration.downStatements { try await self.run(statement, of: migration, on: connection) }
            try await self.setSchemaVersion(previous, on: connection)
            try await self.execute("RESET ROLE", on: connection)
            try await self.forget(migration, of: service, on: connection)
          } catch {
            try? await self.execute("RESET ROLE", on: connection)
            try? await self.execute("RESET search_path", on: connection)
            throw error
          }
          for setting in ["search_path", "lock_timeout", "statement_timeout"] { try await self.execute("RESET \(setting)", on: connection) }
        }
        return AppliedMigration(
          service: service.name, version: migration.version, name: migration.name, phase: migration.phase,
          durationMilliseconds: (ContinuousClock.now - started).milliseconds, lockRetries: retries
        )
      } catch let error as LockNotGranted {
        retries += 1
        guard retries <= self.guardRails.lockRetries else {
          throw MigrationError.lockNotGranted(path: migration.path, line: error.line, attempts: retries, lockTimeout: timeouts.lock)
        }
        try await Task.sleep(for: self.guardRails.backoff(attempt: retries))
      }
    }
  }

  private func forget(_ migration: Migration, of service: ManagedService, on connection: PostgresConnection) async throws {
    _ = try await connection.query(
      "DELETE FROM migration.schema_migrations WHERE service = \(service.name) AND version = \(migration.version)",
      logger: self.logger
    ).collect()
  }
}
