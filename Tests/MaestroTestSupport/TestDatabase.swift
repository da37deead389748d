import Foundation
import Logging
public import MaestroKit
public import PostgresNIO

/// A database of its own for one test, on the test Postgres, with its own role prefix (roles
/// are cluster-wide) so tests run in parallel. Dropped, with its roles, afterwards.
public struct TestDatabase: Sendable {
  public let name: String
  /// Prefix of the per-service roles this test's migrations create.
  public let rolePrefix: String
  private let admin: URLComponents

  public static let schemas = ["migration", "auth", "workflow", "scheduler", "metrics"]

  /// Runs `body` with a fresh, empty database; drops it and its roles afterwards.
  public static func with<Result: Sendable>(
    _ body: (TestDatabase) async throws -> Result
  ) async throws -> Result {
    let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
    let database = TestDatabase(name: "maestro_t_\(suffix)", rolePrefix: "t\(suffix)_", admin: try TestEnvironment.adminURL())
    try await database.adminExecute(["CREATE DATABASE \(database.name)"])
    do {
      let result = try await body(database)
      try await database.drop()
      return result
    } catch {
      try? await database.drop()
      throw error
    }
  }

  /// The superuser URL of this database.
  public var adminURL: String {
    var components = self.admin
    components.path = "/\(self.name)"
    components.query = "sslmode=disable"
    return components.string!
  }

  /// The superuser configuration of this database.
  public func adminConfiguration() throws -> DatabaseConfiguration {
    try DatabaseConfiguration(url: self.adminURL, schema: "public")
  }

  /// The role name of `schema`'s service in this test.
  public func role(for schema: String) -> String { self.rolePrefix + schema }

  /// The password `migrate` gives `schema`'s role (the local-suite default).
  public func password(for schema: String) -> String { LocalSuite.localPassword(schema: schema) }

  /// The URL a service uses: its own role, this database.
  public func serviceURL(schema: String) -> String {
    var components = self.admin
    components.user = self.role(for: schema)
    components.password = self.password(for: schema)
    components.path = "/\(self.name)"
    components.query = "sslmode=disable"
    return components.string!
  }

  /// The configuration a service uses for `schema`.
  public func serviceConfiguration(schema: String) throws -> DatabaseConfiguration {
    try DatabaseConfiguration(url: self.serviceURL(schema: schema), schema: schema)
  }

  private func drop() async throws {
    try await self.adminExecute(
      ["DROP DATABASE IF EXISTS \(self.name) WITH (FORCE)"] + Self.schemas.map { "DROP ROLE IF EXISTS \(self.role(for: $0))" }
    )
  }

  /// Runs statements as the superuser on the cluster's `postgres` database.
  private func adminExecute(_ statements: [String]) async throws {
    var components = self.admin
    components.path = "/postgres"
    components.query = "sslmode=disable"
    var configuration = try DatabaseConfiguration(url: components.string!, schema: "public")
    configuration.maxConnections = 1
    try await withRunningClient(configuration) { client in
      for statement in statements {
        _ = try await client.query(PostgresQuery(unsafeSQL: statement)).collect()
      }
    }
  }
}

/// Runs `body` with a running client for `configuration`, shutting the client down afterwards.
public func withRunningClient<Result: Sendable>(
  _ configuration: DatabaseConfiguration,
  _ body: @Sendable (PostgresClient) async throws -> Result
) async throws -> Result {
  // The pool warns when a query races its run(); harmless here, so only errors are logged.
  var logger = Logger(label: "test.postgres")
  logger.logLevel = .error
  let client = configuration.makeClient(logger: logger)
  return try await withThrowingTaskGroup(of: Result?.self) { group in
    group.addTask {
      await client.run()
      return nil
    }
    defer { group.cancelAll() }
    return try await body(client)
  }
}
