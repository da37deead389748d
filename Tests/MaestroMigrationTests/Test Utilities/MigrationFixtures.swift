import Foundation
import Logging
import MaestroKit
import MaestroMigration
import MaestroTestSupport
import PostgresNIO

/// Builds service lists for tests: the repository's migrations plus extra files appended to one
/// service with the next free versions (so tests keep working as services add migrations).
enum MigrationFixtures {
  /// The service whose schema the tests add their own tables to.
  static let host = "scheduler"

  static func repository() throws -> [ManagedService] {
    try ManagedService.loadAll(root: TestEnvironment.servicesRoot)
  }

  /// The repository's services with `files` (name, contents) appended to `service`.
  static func appending(_ files: [(String, String)], to service: String = host, base: [ManagedService]? = nil) throws -> [ManagedService] {
    var services = try base ?? self.repository()
    guard let index = services.firstIndex(where: { $0.name == service }) else { throw TestSetupError("no service \(service)") }
    var version = services[index].migrations.map(\.version).max() ?? 0
    for (name, contents) in files {
      version += 1
      let fileName = String(format: "%04d_%@.sql", version, name)
      services[index].migrations.append(try Migration(
        service: service, fileName: fileName, path: "\(service)/migrations/\(fileName)", contents: contents
      ))
    }
    return services
  }

  /// The highest repository version of `service`.
  static func baseVersion(_ service: String = host) throws -> Int {
    try self.repository().first { $0.name == service }?.migrations.map(\.version).max() ?? 0
  }

  /// A table with rows, the starting point of most tests.
  static let itemsTable = (
    "items",
    """
    CREATE TABLE owners (id bigint PRIMARY KEY);
    CREATE TABLE items (id bigint PRIMARY KEY, name text, owner_id bigint, legacy text);
    INSERT INTO owners SELECT g FROM generate_series(1, 10) g;
    INSERT INTO items SELECT g, 'item ' || g, 1 + g % 10, 'old' FROM generate_series(1, 200) g;
    """
  )
}

extension TestDatabase {
  /// A runner over `services` as this database's superuser, for the duration of `body`.
  func withRunner<Result: Sendable>(
    _ services: [ManagedService],
    guardRails: GuardRails = GuardRails(retryBackoff: .milliseconds(50)),
    backupDirectory: String? = nil,
    _ body: @escaping @Sendable (MigrationRunner) async throws -> Result
  ) async throws -> Result {
    var configuration = try self.adminConfiguration()
    configuration.maxConnections = 2
    let roles = MigrationRunner.Roles(prefix: self.rolePrefix, passwords: self.rolePasswords)
    let backups = backupDirectory.map { BackupTool(directory: $0, database: configuration) }
    let logger = {
      var logger = Logger(label: "test.runner")
      logger.logLevel = .warning
      return logger
    }()
    return try await withRunningClient(configuration) { client in
      try await body(MigrationRunner(client: client, services: services, roles: roles, guardRails: guardRails, backups: backups, logger: logger))
    }
  }

  /// The first column of every row of `sql`, as text, run as the superuser.
  func adminQuery(_ sql: String) async throws -> [String] {
    try await withRunningClient(try self.adminConfiguration()) { client in
      var values: [String] = []
      for try await value in try await client.query(PostgresQuery(unsafeSQL: sql)).decode(String?.self) { values.append(value ?? "NULL") }
      return values
    }
  }

  /// Runs statements as the superuser.
  func adminExecute(_ statements: String...) async throws {
    try await withRunningClient(try self.adminConfiguration()) { client in
      for statement in statements { _ = try await client.query(PostgresQuery(unsafeSQL: statement)).collect() }
    }
  }
}
