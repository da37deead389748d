public import Foundation
import Logging
import PostgresNIO

/// A running service instance's registration: the highest migration version its code knows.
/// Rows of `migration.schema_expectations`, written at startup (and refreshed) by each service
/// through `migration.register_schema_expectation`, removed on graceful shutdown or on expiry.
public struct SchemaExpectation: Sendable, Equatable {
  public var instanceID: String
  public var service: String
  public var version: Int
  public var registeredAt: Date
  public var expiresAt: Date

  public init(instanceID: String, service: String, version: Int, registeredAt: Date, expiresAt: Date) {
    self.instanceID = instanceID
    self.service = service
    self.version = version
    self.registeredAt = registeredAt
    self.expiresAt = expiresAt
  }

  /// The unexpired expectations (all services), oldest version first.
  static func live(on connection: PostgresConnection, logger: Logger) async throws -> [SchemaExpectation] {
    let rows = try await connection.query(
      """
      SELECT instance_id, service, version, registered_at, expires_at FROM migration.schema_expectations
      WHERE expires_at > now() ORDER BY service, version, instance_id
      """,
      logger: logger
    )
    var expectations: [SchemaExpectation] = []
    for try await (instance, service, version, registeredAt, expiresAt) in rows.decode((String, String, Int, Date, Date).self) {
      expectations.append(SchemaExpectation(instanceID: instance, service: service, version: version, registeredAt: registeredAt, expiresAt: expiresAt))
    }
    return expectations
  }
}
