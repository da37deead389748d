import Foundation
import MaestroCore
import MaestroProtos
import PostgresNIO

extension IdentityStore {
  func createTenant(id: String, displayName: String, on connection: PostgresConnection) async throws -> Maestro_Auth_V1_Tenant {
    do {
      let rows = try await connection.query(
        "INSERT INTO tenants (tenant, display_name) VALUES (\(id), \(displayName)) RETURNING created_at",
        logger: self.logger
      )
      var tenant = Maestro_Auth_V1_Tenant()
      tenant.id = id
      tenant.displayName = displayName
      for try await createdAt in rows.decode(Date.self) { tenant.createdAt = .init(date: createdAt) }
      return tenant
    } catch {
      throw StoreErrors.map(error, conflict: "tenant '\(id)' already exists")
    }
  }

  func tenant(_ id: String) async throws -> Maestro_Auth_V1_Tenant? {
    let rows = try await self.client.query(
      "SELECT tenant, display_name, disabled, created_at FROM tenants WHERE tenant = \(id)", logger: self.logger)
    for try await (id, name, disabled, createdAt) in rows.decode((String, String, Bool, Date).self) {
      return Self.tenant(id: id, name: name, disabled: disabled, createdAt: createdAt)
    }
    return nil
  }

  func listTenants(pageSize: Int, after: String?) async throws -> [Maestro_Auth_V1_Tenant] {
    let rows = try await self.client.query(
      """
      SELECT tenant, display_name, disabled, created_at FROM tenants
      WHERE (\(after)::text IS NULL OR tenant > \(after)) ORDER BY tenant LIMIT \(pageSize + 1)
      """,
      logger: self.logger
    )
    var tenants: [Maestro_Auth_V1_Tenant] = []
    for try await (id, name, disabled, createdAt) in rows.decode((String, String, Bool, Date).self) {
      tenants.append(Self.tenant(id: id, name: name, disabled: disabled, createdAt: createdAt))
    }
    return tenants
  }

  private static func tenant(id: String, name: String, disabled: Bool, createdAt: Date) -> Maestro_Auth_V1_Tenant {
    var tenant = Maestro_Auth_V1_Tenant()
    tenant.id = id
    tenant.displayName = name
    tenant.disabled = disabled
    tenant.createdAt = .init(date: createdAt)
    return tenant
  }
}
