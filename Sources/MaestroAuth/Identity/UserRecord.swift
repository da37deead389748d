import Foundation
import MaestroAuthModel
import MaestroCore
import MaestroProtos

/// A user row with the fields the API and the password grant need.
struct UserRecord: Sendable {
  var id: UUID
  var tenant: String
  var username: String
  var email: String?
  var displayName: String
  var disabled: Bool
  var password: PasswordHasher.Hash?
  var createdAt: Date
  var updatedAt: Date
  var lastLoginAt: Date?
  var identityProvider: String?
  var externalSubject: String?

  static let columns = """
    u.id, u.tenant, u.username, u.email, u.display_name, u.disabled, u.password_hash, u.password_salt,
    u.scrypt_n, u.scrypt_r, u.scrypt_p, u.scrypt_dklen, u.created_at, u.updated_at, u.last_login_at,
    (SELECT o.issuer FROM oidc_identities o WHERE o.tenant = u.tenant AND o.user_id = u.id ORDER BY o.id LIMIT 1),
    (SELECT o.external_subject FROM oidc_identities o WHERE o.tenant = u.tenant AND o.user_id = u.id ORDER BY o.id LIMIT 1)
    """

  typealias Row = (UUID, String, String, String?, String, Bool, Data?, Data?, Int?, Int?, Int?, Int?, Date, Date, Date?, String?, String?)

  init(row: Row) {
    self.id = row.0
    self.tenant = row.1
    self.username = row.2
    self.email = row.3
    self.displayName = row.4
    self.disabled = row.5
    if let hash = row.6, let salt = row.7, let n = row.8, let r = row.9, let p = row.10, let length = row.11 {
      self.password = PasswordHasher.Hash(hash: hash, salt: salt, parameters: ScryptParameters(n: n, r: r, p: p, keyLength: length))
    }
    self.createdAt = row.12
    self.updatedAt = row.13
    self.lastLoginAt = row.14
    self.identityProvider = row.15
    self.externalSubject = row.16
  }

  func proto(roles: Set<Role>) -> Maestro_Auth_V1_User {
    var user = Maestro_Auth_V1_User()
    user.id = self.id.uuidString.lowercased()
    user.username = self.username
    user.email = self.email ?? ""
    user.displayName = self.displayName
    user.disabled = self.disabled
    user.roles = roles.sortedProtos
    user.identityProvider = self.identityProvider ?? ""
    user.externalSubject = self.externalSubject ?? ""
    if let lastLoginAt = self.lastLoginAt { user.lastLoginAt = .init(date: lastLoginAt) }
    user.meta.tenant = self.tenant
    user.meta.createdAt = .init(date: self.createdAt)
    user.meta.updatedAt = .init(date: self.updatedAt)
    return user
  }
}
