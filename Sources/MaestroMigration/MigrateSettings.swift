public import Logging
public import MaestroKit
import PostgresNIO

/// Everything `migrate` needs, resolved and validated before touching the database.
public struct MigrateSettings: Sendable {
  public var admin: DatabaseConfiguration
  public var services: [ManagedService]
  public var roles: MigrationRunner.Roles
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
    environment: [String: String]
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
  }

  /// Connects as the administrator and runs the ``MigrationRunner``.
  public func migrate(logger: Logger) async throws -> MigrationRunner.Report {
    var admin = self.admin
    admin.maxConnections = 1
    let client = admin.makeClient(logger: logger)
    return try await withThrowingTaskGroup(of: MigrationRunner.Report?.self) { group in
      group.addTask {
        await client.run()
        return nil
      }
      defer { group.cancelAll() }
      let runner = MigrationRunner(client: client, services: self.services, roles: self.roles, logger: logger)
      return try await withDeadline(.seconds(600), operation: "migrate") { try await runner.migrate() }
    }
  }
}
