public import Foundation
import Logging
public import PostgresNIO

/// The record of applied migrations, `migration.schema_migrations`.
public struct Ledger: Sendable {
  /// The schema that holds the ledger.
  public static let schema = "migration"

  static let createTable = """
    CREATE TABLE IF NOT EXISTS schema_migrations (
      service     text        NOT NULL,
      version     integer     NOT NULL CHECK (version > 0),
      name        text        NOT NULL,
      checksum    text        NOT NULL,
      phase       text        NOT NULL CHECK (phase IN ('expand', 'contract')),
      duration_ms bigint      NOT NULL,
      applied_by  text        NOT NULL,
      applied_at  timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (service, version)
    )
    """

  /// Columns added after the first release of the ledger (idempotent).
  static let upgradeTable = [
    "ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS lock_retries integer NOT NULL DEFAULT 0",
    "ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS backup_path text",
  ]

  /// Progress of a non-transactional migration: how many of its statements completed, so a
  /// failed run resumes after them.
  static let createProgressTable = """
    CREATE TABLE IF NOT EXISTS schema_migration_progress (
      service         text        NOT NULL,
      version         integer     NOT NULL,
      checksum        text        NOT NULL,
      statements_done integer     NOT NULL CHECK (statements_done >= 0),
      updated_at      timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (service, version)
    )
    """

  /// One applied migration as recorded.
  public struct Entry: Sendable, Equatable {
    public var service: String
    public var version: Int
    public var name: String
    public var checksum: String
    public var phase: String
    public var durationMilliseconds: Int64
    public var appliedBy: String
    public var appliedAt: Date
    public var lockRetries: Int = 0
    public var backupPath: String?
  }

  public var entries: [Entry]

  /// Reads the ledger (the table must exist).
  public static func read(on connection: PostgresConnection, logger: Logger) async throws -> Ledger {
    let rows = try await connection.query(
      """
      SELECT service, version, name, checksum, phase, duration_ms, applied_by, applied_at,
             lock_retries, coalesce(backup_path, '')
      FROM migration.schema_migrations ORDER BY service, version
      """,
      logger: logger
    )
    var entries: [Entry] = []
    for try await (service, version, name, checksum, phase, duration, appliedBy, appliedAt, retries, backup)
      in rows.decode((String, Int, String, String, String, Int64, String, Date, Int, String).self)
    {
      entries.append(Entry(
        service: service, version: version, name: name, checksum: checksum, phase: phase,
        durationMilliseconds: duration, appliedBy: appliedBy, appliedAt: appliedAt,
        lockRetries: retries, backupPath: backup.isEmpty ? nil : backup
      ))
    }
    return Ledger(entries: entries)
  }

  /// The highest applied version of `service` (0: none).
  public func currentVersion(of service: String) -> Int {
    self.entries.lazy.filter { $0.service == service }.map(\.version).max() ?? 0
  }

  /// Applied versions of `service`.
  public func versions(of service: String) -> Set<Int> {
    Set(self.entries.lazy.filter { $0.service == service }.map(\.version))
  }

  /// Throws if an applied migration's file changed or disappeared.
  public func verify(against services: [ManagedService]) throws(MigrationError) {
    for entry in self.entries {
      guard let service = services.first(where: { $0.name == entry.service }) else { continue }
      guard let migration = service.migrations.first(where: { $0.version == entry.version }) else {
        throw .missingFile(service: entry.service, version: entry.version, name: entry.name)
      }
      guard migration.checksum == entry.checksum else {
        throw .checksumMismatch(path: migration.path, recorded: entry.checksum, current: migration.checksum)
      }
    }
  }
}
