public import Logging
import MaestroCore
public import PostgresNIO

/// A service's handle on its own schema: the pooled client plus the checks a service needs at
/// startup and for readiness.
public struct Database: Sendable {
  public let client: PostgresClient
  public let configuration: DatabaseConfiguration
  private let logger: Logger

  public init(configuration: DatabaseConfiguration, logger: Logger) {
    self.configuration = configuration
    self.logger = logger
    self.client = configuration.makeClient(logger: logger)
  }

  /// Runs `body` in one transaction (READ COMMITTED). A failure inside `body` rolls back and is
  /// rethrown unwrapped (not as `PostgresTransactionError`), so callers map their own errors.
  public func withTransaction<Result: Sendable>(
    _ body: (PostgresConnection) async throws -> Result
  ) async throws -> Result {
    do {
      return try await self.client.withTransaction(logger: self.logger) { connection in
        try await body(connection)
      }
    } catch let error as PostgresTransactionError {
      throw error.closureError ?? error.rollbackError ?? error.commitError ?? error
    }
  }

  /// Checks Postgres answers within `timeout`; used by `/readyz`.
  public func ping(timeout: Duration = .seconds(2)) async throws {
    _ = try await withDeadline(timeout, operation: "database ping") {
      try await self.client.query("SELECT 1", logger: self.logger).collect()
    }
  }

  /// Fails with a clear message unless Postgres is reachable within the connect timeout and this
  /// service's schema is migrated to at least `requiredVersion`.
  public func verifySchema(requiredVersion: Int) async throws {
    let configuration = self.configuration
    let version: Int?
    do {
      version = try await withDeadline(configuration.connectTimeout, operation: "connect") {
        let rows = try await self.client.query(
          "SELECT version FROM maestro_schema_version",
          logger: self.logger
        )
        var found: Int?
        for try await value in rows.decode(Int.self) { found = value }
        return found
      }
    } catch let error as PSQLError where error.serverInfo?[.sqlState] == "42P01" {
      throw MaestroError.failedPrecondition(
        "schema '\(configuration.schema)' is not migrated: run `migration-service migrate` first"
      )
    } catch let error as DeadlineExceeded {
      throw MaestroError.unavailable(
        "cannot reach Postgres at \(configuration.host):\(configuration.port) within \(error.timeout)",
        cause: error
      )
    } catch let error as PSQLError {
      throw MaestroError.unavailable(
        "cannot use Postgres at \(configuration.host):\(configuration.port) as \(configuration.username): \(error.serverInfo?[.message] ?? "\(error.code)")",
        cause: error
      )
    }
    guard let version, version >= requiredVersion else {
      throw MaestroError.failedPrecondition(
        "schema '\(configuration.schema)' is at version \(version ?? 0) but this build needs \(requiredVersion): run `migration-service migrate`"
      )
    }
  }
}
