import Foundation
import MaestroCore
import MaestroProtos
import PostgresNIO

extension IdentityStore {
  static let bindingColumns = "id, user_id, service_account_id, role, created_at, created_by, tenant"
  typealias BindingRow = (Int64, UUID?, UUID?, String, Date, String?, String)

  static func binding(_ row: BindingRow) -> Maestro_Auth_V1_RoleBinding {
    var binding = Maestro_Auth_V1_RoleBinding()
    binding.id = String(row.0)
    if let user = row.1 {
      binding.subjectKind = .user
      binding.subjectID = user.uuidString.lowercased()
    } else if let account = row.2 {
      binding.subjectKind = .serviceAccount
      binding.subjectID = account.uuidString.lowercased()
    }
    binding.role = Role(rawValue: row.3)?.proto ?? .unspecified
    binding.meta.tenant = row.6
    binding.meta.createdAt = .init(date: row.4)
    binding.meta.createdBy = row.5 ?? ""
    return binding
  }

  /// Creates one binding; NOT_FOUND when the subject is not in `tenant`.
  func createRoleBinding(tenant: String, userID: UUID?, serviceAccountID: UUID?, role: Role, by creator: String, on connection: PostgresConnection) async throws -> Maestro_Auth_V1_RoleBinding {
    do {
      let rows = try await connection.query(
        """
        INSERT INTO role_bindings (tenant, user_id, service_account_id, role, created_by)
        VALUES (\(tenant), \(userID), \(serviceAccountID), \(role.rawValue), \(creator))
        RETURNING \(unescaped: Self.bindingColumns)
        """,
        logger: self.logger
      )
      for try await row in rows.decode(BindingRow.self) { return Self.binding(row) }
      throw MaestroError.internal()
    } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23503" {
      throw MaestroError.notFound("subject not found")
    } catch {
      throw StoreErrors.map(error, conflict: "the subject already has role \(role.rawValue)")
    }
  }

  func listRoleBindings(tenant: String, subject: UUID?, role: Role?, pageSize: Int, after: Int64?) async throws -> [Maestro_Auth_V1_RoleBinding] {
    let rows = try await self.client.query(
      """
      SELECT \(unescaped: Self.bindingColumns) FROM role_bindings
      WHERE tenant = \(tenant)
        AND (\(subject)::uuid IS NULL OR user_id = \(subject) OR service_account_id = \(subject))
        AND (\(role?.rawValue)::text IS NULL OR role = \(role?.rawValue))
        AND (\(after)::bigint IS NULL OR id > \(after))
      ORDER BY id LIMIT \(pageSize + 1)
      """,
      logger: self.logger
    )
    var bindings: [Maestro_Auth_V1_RoleBinding] = []
    for try await row in rows.decode(BindingRow.self) { bindings.append(Self.binding(row)) }
    return bindings
  }

  /// Deletes a binding; returns it, or nil when `tenant` has no such binding.
  func deleteRoleBinding(tenant: String, id: Int64, on connection: PostgresConnection) async throws -> Maestro_Auth_V1_RoleBinding? {
    let rows = try await connection.query(
      "DELETE FROM role_bindings WHERE tenant = \(tenant) AND id = \(id) RETURNING \(unescaped: Self.bindingColumns)", logger: self.logger)
    for try await row in rows.decode(BindingRow.self) { return Self.binding(row) }
    return nil
  }
}
