import Foundation
public import Logging
import MaestroCore
public import PostgresNIO

/// Applies and rolls back the services' migrations on one database, as its administrator.
///
/// Every operation holds a session advisory lock (so runners serialise; see
/// ``GuardRails/lockWait``), creates each service's login role and schema if needed (the role
/// owns its schema and has no privileges on the others; PUBLIC loses its default rights) and
/// the ledger `migration.schema_migrations`, and refuses to continue if an applied file's
/// checksum changed. Then it applies what ``MigrationPlanner`` selects — each migration as the
/// service's role with `search_path` set to its schema, under `lock_timeout` and
/// `statement_timeout`, retried with backoff when a lock is not granted, optionally after a
/// `pg_dump` of the schema — recording version, checksum, phase, duration, retries, backup and
/// who applied it, and bumping `<schema>.maestro_schema_version`. Running it again is a no-op.
public struct MigrationRunner: Sendable {
  /// Role names are `<rolePrefix><schema>`; passwords by schema.
  public struct Roles: Sendable {
    public var prefix: String
    public var passwords: [String: String]

    public init(prefix: String = "maestro_", passwords: [String: String]) {
      self.prefix = prefix
      self.passwords = passwords
    }

    public func name(for schema: String) -> String { self.prefix + schema }
  }

  /// The session advisory lock key ("MAESTRO" in ASCII) held while migrating.
  public static let advisoryLockKey: Int64 = 0x4D41_4553_5452_4F

  let client: PostgresClient
  let services: [ManagedService]
  let roles: Roles
  let guardRails: GuardRails
  let backups: BackupTool?
  let logger: Logger

  /// - Parameters:
  ///   - client: A running client connected as a role that may create roles and schemas.
  ///   - services: The services and their migrations, in apply order.
  ///   - backups: Where `backup: true` requests dump schemas; nil refuses them.
  public init(
    client: PostgresClient,
    services: [ManagedService],
    roles: Roles,
    guardRails: GuardRails = .default,
    backups: BackupTool? = nil,
    logger: Logger
  ) {
    self.client = client
    self.services = services
    self.roles = roles
    self.guardRails = guardRails
    self.backups = backups
    self.logger = logger
  }

  var linter: MigrationLinter { MigrationLinter(defaultLockTimeout: self.guardRails.lockTimeout) }

  /// What to apply.
  public struct ApplyOptions: Sendable {
    /// nil: both phases, in version order (`migrate`).
    public var phase: Migration.Phase?
    public var service: String?
    public var targetVersion: Int?
    /// `pg_dump` each affected schema first.
    public var backup: Bool
    /// Plan only.
    public var dryRun: Bool

    public init(phase: Migration.Phase? = nil, service: String? = nil, targetVersion: Int? = nil, backup: Bool = false, dryRun: Bool = false) {
      self.phase = phase
      self.service = service
      self.targetVersion = targetVersion
      self.backup = backup
      self.dryRun = dryRun
    }
  }

  /// What one run did.
  public struct Report: Sendable {
    /// Each migration applied (or, for rollback, rolled back), in order.
    public var applied: [AppliedMigration] = []
    public var backups: [BackupTool.Dump] = []
    /// The plan it followed (for a dry run: what it would do).
    public var plans: [MigrationPlanner.ServicePlan] = []
  }

  /// One migration applied (or rolled back) by this run.
  public struct AppliedMigration: Sendable, Equatable {
    public var service: String
    public var version: Int
    public var name: String
    public var phase: Migration.Phase = .expand
    public var durationMilliseconds: Int64 = 0
    public var lockRetries: Int = 0
    public var backupPath: String?
  }

  /// Applies everything pending, both phases in version order (the local suite's `migrate`).
  public func migrate() async throws -> Report {
    try await self.apply(ApplyOptions())
  }

  /// Applies what `options` select. Throws ``MigrationError`` — `.refused` (with every reason)
  /// before changing anything when lint, phases or instances block it; for a failing migration
  /// nothing of it is kept and earlier ones stay applied.
  public func apply(_ options: ApplyOptions) async throws -> Report {
    try self.validate(service: options.service)
    if options.targetVersion != nil, options.service == nil {
      throw MigrationError.invalidSetting("target_version needs a service")
    }
    // A dry run changes nothing at all: no lock, no bootstrap.
    if options.dryRun { return Report(plans: try await self.plan(options)) }
    return try await self.withLock { connection in
      try await self.bootstrap(on: connection)
      let ledger = try await Ledger.read(on: connection, logger: self.logger)
      try ledger.verify(against: self.services)
      let expectations = try await Self.liveExpectations(on: connection, logger: self.logger)
      let planner = MigrationPlanner(phase: options.phase, service: options.service, targetVersion: options.targetVersion, linter: self.linter)
      let plans = planner.plan(services: self.services, ledger: ledger, expectations: expectations)
      var report = Report(plans: plans)
      let blockers = plans.flatMap { plan in plan.blockers.map { "\(plan.service.name): \($0)" } }
      guard blockers.isEmpty else { throw MigrationError.refused(blockers) }
      if options.backup, self.backups == nil {
        throw MigrationError.invalidSetting("backup requested but no backup directory is configured (--backup-dir / MAESTRO_BACKUP_DIR)")
      }
      for plan in plans where !plan.migrations.isEmpty {
        var backupPath: String?
        if options.backup {
          let dump = try await self.backup(plan.service, version: plan.currentVersion, reason: "apply", on: connection)
          report.backups.append(dump)
          backupPath = dump.path
        }
        for migration in plan.migrations {
          var applied = try await self.apply(migration, of: plan.service, backupPath: backupPath, on: connection)
          applied.backupPath = backupPath
          report.applied.append(applied)
        }
      }
      try await self.grantExpectationAccess(on: connection)
      if report.applied.isEmpty { self.logger.info("migrations up to date") }
      return report
    }
  }

  /// What ``apply(_:)`` would do, without taking the lock or changing anything.
  public func plan(_ options: ApplyOptions) async throws -> [MigrationPlanner.ServicePlan] {
    try self.validate(service: options.service)
    return try await self.client.withConnection { connection in
      let ledger = try await Self.ledgerIfPresent(on: connection, logger: self.logger)
      try ledger.verify(against: self.services)
      let expectations = try await Self.liveExpectations(on: connection, logger: self.logger)
      let planner = MigrationPlanner(phase: options.phase, service: options.service, targetVersion: options.targetVersion, linter: self.linter)
      return planner.plan(services: self.services, ledger: ledger, expectations: expectations)
    }
  }

  func validate(service: String?) throws(MigrationError) {
    try self.validateRoles()
    if let service, !self.services.contains(where: { $0.name == service }) {
      throw .invalidSetting("unknown service '\(service)'; expected one of \(self.services.map(\.name).joined(separator: ", "))")
    }
  }

  /// Runs `body` on one connection holding the advisory lock.
  func withLock<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
    try await self.client.withConnection { connection in
      try await AdvisoryLock.acquire(key: Self.advisoryLockKey, wait: self.guardRails.lockWait, on: connection, logger: self.logger)
      do {
        let result = try await body(connection)
        await AdvisoryLock.release(key: Self.advisoryLockKey, on: connection, logger: self.logger)
        return result
      } catch {
        await AdvisoryLock.release(key: Self.advisoryLockKey, on: connection, logger: self.logger)
        throw error
      }
    }
  }

  /// The ledger, or an empty one before the first migrate.
  static func ledgerIfPresent(on connection: PostgresConnection, logger: Logger) async throws -> Ledger {
    guard try await self.relationExists("migration.schema_migrations", on: connection, logger: logger) else { return Ledger(entries: []) }
    return try await Ledger.read(on: connection, logger: logger)
  }

  static func liveExpectations(on connection: PostgresConnection, logger: Logger) async throws -> [SchemaExpectation] {
    guard try await self.relationExists("migration.schema_expectations", on: connection, logger: logger) else { return [] }
    return try await SchemaExpectation.live(on: connection, logger: logger)
  }

  static func relationExists(_ name: String, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
    let rows = try await connection.query("SELECT to_regclass(\(name)) IS NOT NULL", logger: logger).collect()
    return try rows.first?.decode(Bool.self) ?? false
  }

  /// Dumps `service`'s schema and records it in `migration.backups`.
  func backup(_ service: ManagedService, version: Int, reason: String, on connection: PostgresConnection) async throws -> BackupTool.Dump {
    guard let backups = self.backups else {
      throw MigrationError.invalidSetting("backup requested but no backup directory is configured (--backup-dir / MAESTRO_BACKUP_DIR)")
    }
    let dump = try await backups.dump(schema: service.schema, service: service.name, version: version)
    if try await Self.relationExists("migration.backups", on: connection, logger: self.logger) {
      _ = try await connection.query(
        """
        INSERT INTO migration.backups (service, path, size_bytes, reason, schema_name, ledger_version, created_at)
        VALUES (\(service.name), \(dump.path), \(dump.sizeBytes), \(reason), \(service.schema), \(version), \(dump.createdAt))
        """,
        logger: self.logger
      ).collect()
    }
    self.logger.info("backup written", metadata: ["service": "\(service.name)", "path": "\(dump.path)", "bytes": "\(dump.sizeBytes)"])
    return dump
  }
}

/// `"name"`, with embedded quotes doubled.
func quoteIdentifier(_ name: String) -> String {
  "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}

/// `'text'`, with embedded quotes doubled (standard_conforming_strings is on since PG 9.1).
func quoteLiteral(_ text: String) -> String {
  "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
}

func isSimpleIdentifier(_ name: String) -> Bool {
  guard let first = name.unicodeScalars.first, ("a"..."z").contains(first) || first == "_" else { return false }
  return name.count <= 63 && name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
}
