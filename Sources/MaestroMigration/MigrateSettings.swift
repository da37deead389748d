public import Logging
public import MaestroKit
import PostgresNIO

/// Everything the runner needs, resolved and validated before touching the database.
public struct MigrateSettings: Sendable {
  public var admin: DatabaseConfiguration
  public var services: [ManagedService]
  public var roles: MigrationRunner.Roles
  public var guardRails: GuardRails
  /// Where backups go; nil: backups refused.
  public var backups: BackupTool?
  /// Schemas whose role password fell back to the local-suite default.
  public var defaultedPasswordSchemas: [String]

  /// - Parameters:
  ///   - adminURL: The administrator URL; required.
  ///   - environment: Read for `MAESTRO_DB_PASSWORD_<SCHEMA>` (the password each service role
  ///     gets; the local-suite default when unset).
  public init(
    adminURL: String?,
    migrationsRoot: String,
    rolePrefix: String,
    environment: [String: String],
    guardRails: GuardRails = .default,
    backupDirectory: String? = nil,
    pgDump: String? = nil,
    pgRestore: String? = nil
  ) throws {
    guard let adminURL else {
      throw ConfigurationError(setting: "MAESTRO_ADMIN_DATABASE_URL", message: "required: the administrator's postgres:// URL")
    }
    do {
      self.admin = try DatabaseConfiguration(url: adminURL, schema: "public")
    } catch {
      throw ConfigurationError(setting: "MAESTRO_ADMIN_DATABASE_URL", message: error.description)
    }
    self.services = try ManagedService.loadAll(root: migrationsRoot)
    var passwords: [String: String] = [:]
    var defaulted: [String] = []
    for service in self.services {
      if let password = environment["MAESTRO_DB_PASSWORD_\(service.schema.uppercased())"], !password.isEmpty {
        passwords[service.schema] = password
      } else {
        passwords[service.schema] = LocalSuite.localPassword(schema: service.schema)
        defaulted.append(service.schema)
      }
    }
    self.roles = MigrationRunner.Roles(prefix: rolePrefix, passwords: passwords)
    self.defaultedPasswordSchemas = defaulted
    self.guardRails = guardRails
    self.backups = backupDirectory.map { BackupTool(directory: $0, database: self.admin, pgDump: pgDump, pgRestore: pgRestore) }
  }

  /// Connects as the administrator and runs `body` with a ``MigrationRunner``.
  public func withRunner<Result: Sendable>(
    logger: Logger,
    _ body: @escaping @Sendable (MigrationRunner) async throws -> Result
  ) async throws -> Result {
    var admin = self.admin
    admin.maxConnections = 2
    // The pool warns when a query races its run(); harmless for a one-shot command.
    var backgroundLogger = logger
    backgroundLogger.logLevel = max(logger.logLevel, .error)
    let client = admin.makeClient(logger: backgroundLogger)
    return try await withThrowingTaskGroup(of: Result?.self) { group in
      group.addTask {
        await client.run()
        return nil
      }
      defer { group.cancelAll() }
      let runner = MigrationRunner(
        client: client, services: self.services, roles: self.roles, guardRails: self.guardRails,
        backups: self.backups, logger: logger
      )
      return try await body(runner)
    }
  }

  /// Connects as the administrator and applies everything pending (`migrate`).
  public func migrate(logger: Logger) async throws -> MigrationRunner.Report {
    try await self.withRunner(logger: logger) { runner in
      try await runner.migrate()
    }
  }
}
