public import Foundation
import Logging
import PostgresNIO

extension MigrationRunner {
  /// A backup recorded in `migration.backups`.
  public struct BackupRecord: Sendable, Equatable {
    public var id: Int64
    public var service: String
    public var schema: String
    public var path: String
    /// The service's ledger version when it was taken.
    public var ledgerVersion: Int
    public var createdAt: Date
  }

  /// The recorded backups, newest first (at most `limit`).
  public func backups(service: String? = nil, limit: Int = 50) async throws -> [BackupRecord] {
    try await self.client.withConnection { connection in
      let rows = try await connection.query(
        """
        SELECT id, service, coalesce(schema_name, ''), path, coalesce(ledger_version, 0), created_at FROM migration.backups
        WHERE \(service ?? "") = '' OR service = \(service ?? "")
        ORDER BY id DESC LIMIT \(limit)
        """,
        logger: self.logger
      )
      var records: [BackupRecord] = []
      for try await (id, name, schema, path, version, createdAt) in rows.decode((Int64, String, String, String, Int, Date).self) {
        records.append(BackupRecord(id: id, service: name, schema: schema, path: path, ledgerVersion: version, createdAt: createdAt))
      }
      return records
    }
  }

  /// Restores a service's schema from backup `id` exactly as it was when the backup was taken,
  /// and makes the ledger agree (migrations applied after the backup are forgotten).
  ///
  /// Under the advisory lock: the live schema is renamed aside, `pg_restore` recreates it in one
  /// transaction, then the old one is dropped. If the restore fails, the live schema is renamed
  /// back untouched.
  public func restore(backupID id: Int64) async throws -> BackupRecord {
    guard let backups = self.backups else {
      throw MigrationError.invalidSetting("restore needs the backup tool settings (--backup-dir / MAESTRO_BACKUP_DIR)")
    }
    return try await self.withLock { connection in
      guard let record = try await self.backups(limit: 1_000_000).first(where: { $0.id == id }) else {
        throw MigrationError.invalidSetting("no backup with id \(id) in migration.backups")
      }
      guard let service = self.services.first(where: { $0.name == record.service }) else {
        throw MigrationError.invalidSetting("backup \(id) belongs to unknown service '\(record.service)'")
      }
      let schema = quoteIdentifier(service.schema)
      let aside = "\(service.schema)_pre_restore_\(Int(Date().timeIntervalSince1970))"
      try await self.execute("ALTER SCHEMA \(schema) RENAME TO \(quoteIdentifier(aside))", on: connection)
      do {
        try await backups.restore(path: record.path)
      } catch {
        try? await self.execute("DROP SCHEMA IF EXISTS \(schema) CASCADE", on: connection)
        try await self.execute("ALTER SCHEMA \(quoteIdentifier(aside)) RENAME TO \(schema)", on: connection)
        throw error
      }
      try await self.execute("DROP SCHEMA \(quoteIdentifier(aside)) CASCADE", on: connection)
      if service.schema != Ledger.schema {
        try await self.inTransaction(on: connection) { connection in
          _ = try await connection.query(
            "DELETE FROM migration.schema_migrations WHERE service = \(service.name) AND version > \(record.ledgerVersion)",
            logger: self.logger
          ).collect()
          _ = try await connection.query(
            "DELETE FROM migration.schema_migration_progress WHERE service = \(service.name)",
            logger: self.logger
          ).collect()
        }
      }
      self.logger.notice("schema restored", metadata: ["service": "\(service.name)", "backup": "\(record.path)", "version": "\(record.ledgerVersion)"])
      return record
    }
  }
}
