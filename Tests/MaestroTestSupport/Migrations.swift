import Logging
import MaestroKit
public import MaestroMigration
import PostgresNIO

extension TestDatabase {
  /// The local-suite passwords for every role of this test.
  public var rolePasswords: [String: String] {
    Dictionary(uniqueKeysWithValues: Self.schemas.map { ($0, self.password(for: $0)) })
  }

  /// Runs the migration runner over `services` (the repository's by default) as the superuser.
  @discardableResult
  public func migrate(services: [ManagedService]? = nil) async throws -> MigrationRunner.Report {
    let services = try services ?? ManagedService.loadAll(root: TestEnvironment.servicesRoot)
    var configuration = try self.adminConfiguration()
    configuration.maxConnections = 1
    let roles = MigrationRunner.Roles(prefix: self.rolePrefix, passwords: self.rolePasswords)
    return try await withRunningClient(configuration) { client in
      try await MigrationRunner(client: client, services: services, roles: roles, logger: Logger(label: "test.migrate")).migrate()
    }
  }
}
