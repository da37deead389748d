import Foundation
public import Logging
import PostgresNIO
public import ServiceLifecycle

/// Registers, while the process runs, the schema version this instance's code knows, so
/// migration-service refuses contract migrations this code still needs (see
/// services/migration-service/README.md, "Schema expectations").
///
/// It calls `migration.register_schema_expectation(instance, version, ttl)` — a SECURITY DEFINER
/// function that is the only thing in the `migration` schema a service role may use; the
/// function derives the service from the calling role — at startup and every `ttl / 3`, and
/// `migration.withdraw_schema_expectation(instance)` on graceful shutdown (after the gRPC server
/// has drained, as it is started before it). A database without the functions (migration-service
/// older than its migration 0002) only logs a warning: registration never stops a service.
public struct SchemaExpectationRegistrar: Service {
  public let database: Database
  /// Unique per running instance (`MAESTRO_INSTANCE_ID`, else host, pid and a random suffix).
  public let instanceID: String
  public let version: Int
  public let ttl: Duration
  private let logger: Logger

  public init(database: Database, version: Int, ttl: Duration = .seconds(300), instanceID: String? = nil, logger: Logger) {
    self.database = database
    self.version = version
    self.ttl = ttl
    self.instanceID = instanceID ?? Self.defaultInstanceID()
    self.logger = logger
  }

  /// `MAESTRO_INSTANCE_ID`, or `<host>-<pid>-<random>`.
  public static func defaultInstanceID() -> String {
    if let id = ProcessInfo.processInfo.environment["MAESTRO_INSTANCE_ID"], !id.isEmpty { return String(id.prefix(200)) }
    let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
    return "\(ProcessInfo.processInfo.hostName.prefix(120))-\(ProcessInfo.processInfo.processIdentifier)-\(suffix)"
  }

  public func run() async throws {
    await self.register()
    await cancelWhenGracefulShutdown {
      while !Task.isCancelled {
        do {
          try await Task.sleep(for: self.ttl / 3)
        } catch {
          return
        }
        await self.register()
      }
    }
    await self.withdraw()
  }

  /// Registers (or refreshes) the expectation; returns false (after logging why) when it could not.
  @discardableResult
  public func register() async -> Bool {
    do {
      let rows = try await self.database.client.query(
        "SELECT current_version FROM migration.register_schema_expectation(\(self.instanceID), \(self.version)::integer, \(self.ttl.components.seconds) * interval '1 second')",
        logger: self.logger
      )
      var current = 0
      for try await value in rows.decode(Int.self) { current = value }
      self.logger.debug("schema expectation registered", metadata: ["instance": "\(self.instanceID)", "version": "\(self.version)", "current_version": "\(current)"])
      return true
    } catch {
      self.logger.warning(
        "could not register this instance's schema expectation; contract migrations cannot wait for it",
        metadata: ["instance": "\(self.instanceID)", "error": "\(Self.describe(error))"]
      )
      return false
    }
  }

  /// Removes the expectation (graceful shutdown).
  public func withdraw() async {
    do {
      _ = try await self.database.client.query(
        "SELECT migration.withdraw_schema_expectation(\(self.instanceID))",
        logger: self.logger
      ).collect()
    } catch {
      self.logger.warning("could not withdraw this instance's schema expectation; it expires by itself", metadata: ["error": "\(Self.describe(error))"])
    }
  }

  private static func describe(_ error: any Error) -> String {
    if let error = error as? PSQLError { return error.serverInfo?[.message] ?? "\(error.code)" }
    return "\(error)"
  }
}
