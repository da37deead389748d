import Foundation
import MaestroCore
import MaestroProtos

/// A service-account row (no secret: only its hash is stored, and only the grant reads it).
struct ServiceAccountRecord: Sendable {
  var id: UUID
  var tenant: String
  var name: String
  var description: String
  var clientID: String
  var disabled: Bool
  var createdAt: Date
  var updatedAt: Date
  var lastUsedAt: Date?

  static let columns = "id, tenant, name, description, client_id, disabled, created_at, updated_at, last_used_at"
  typealias Row = (UUID, String, String, String, String, Bool, Date, Date, Date?)

  init(row: Row) {
    (self.id, self.tenant, self.name, self.description, self.clientID, self.disabled, self.createdAt, self.updatedAt, self.lastUsedAt) = row
  }

  func proto(roles: Set<Role>) -> Maestro_Auth_V1_ServiceAccount {
    var account = Maestro_Auth_V1_ServiceAccount()
    account.id = self.id.uuidString.lowercased()
    account.name = self.name
    account.description_p = self.description
    account.clientID = self.clientID
    account.disabled = self.disabled
    account.roles = roles.sortedProtos
    if let lastUsedAt = self.lastUsedAt { account.lastUsedAt = .init(date: lastUsedAt) }
    account.meta.tenant = self.tenant
    account.meta.createdAt = .init(date: self.createdAt)
    account.meta.updatedAt = .init(date: self.updatedAt)
    return account
  }
}
