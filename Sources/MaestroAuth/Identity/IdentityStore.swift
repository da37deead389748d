import Foundation
import Logging
public import MaestroCore
import MaestroKit
public import MaestroProtos
import PostgresNIO

/// Persistence of tenants, users, service accounts and role bindings. Every method takes the
/// tenant it acts in, and every query is scoped by it: another tenant's rows are never seen
/// (they answer NOT_FOUND).
struct IdentityStore: Sendable {
  let database: Database
  let logger: Logger

  var client: PostgresClient { self.database.client }

  /// The roles bound to a user or service account in `tenant`.
  func roles(tenant: String, userID: UUID? = nil, serviceAccountID: UUID? = nil, on connection: PostgresConnection? = nil) async throws -> Set<Role> {
    let query: PostgresQuery = """
      SELECT role FROM role_bindings
      WHERE tenant = \(tenant) AND user_id IS NOT DISTINCT FROM \(userID) AND service_account_id IS NOT DISTINCT FROM \(serviceAccountID)
      """
    let rows = try await self.run(query, on: connection)
    var roles: Set<Role> = []
    for try await name in rows.decode(String.self) {
      if let role = Role(rawValue: name) { roles.insert(role) }
    }
    return roles
  }

  /// Binds `roles` to a subject in `tenant` (ignores bindings that already exist).
  func bind(_ roles: [Role], tenant: String, userID: UUID? = nil, serviceAccountID: UUID? = nil, by creator: String?, on connection: PostgresConnection) async throws {
    for role in roles {
      _ = try await connection.query(
        """
        INSERT INTO role_bindings (tenant, user_id, service_account_id, role, created_by)
        VALUES (\(tenant), \(userID), \(serviceAccountID), \(role.rawValue), \(creator))
        ON CONFLICT ON CONSTRAINT role_bindings_unique DO NOTHING
        """,
        logger: self.logger
      ).collect()
    }
  }

  /// Runs `query` on `connection` when given (inside a transaction), else on the pool.
  func run(_ query: PostgresQuery, on connection: PostgresConnection?) async throws -> PostgresRowSequence {
    if let connection { return try await connection.query(query, logger: self.logger) }
    return try await self.client.query(query, logger: self.logger)
  }

  /// Whether `tenant` exists and is enabled.
  func tenantIsActive(_ tenant: String) async throws -> Bool {
    let rows = try await self.client.query("SELECT disabled FROM tenants WHERE tenant = \(tenant)", logger: self.logger)
    for try await disabled in rows.decode(Bool.self) { return !disabled }
    return false
  }
}

extension Role {
  /// The role as the auth API's enum.
  public var proto: Maestro_Auth_V1_Role {
    switch self {
    case .admin: .admin
    case .securityAdmin: .securityAdmin
    case .platformOperator: .platformOperator
    case .tenantAdmin: .tenantAdmin
    case .workflowAuthor: .workflowAuthor
    case .workflowOperator: .workflowOperator
    case .analyst: .analyst
    case .viewer: .viewer
    }
  }

  init?(proto: Maestro_Auth_V1_Role) {
    guard let role = Role.allCases.first(where: { $0.proto == proto }) else { return nil }
    self = role
  }
}

extension Set where Element == Role {
  /// Roles in the matrix's order, for stable output.
  var sortedProtos: [Maestro_Auth_V1_Role] {
    Role.allCases.filter { self.contains($0) }.map(\.proto)
  }
}
