import Foundation
import MaestroCore
import MaestroProtos

/// A session row.
struct SessionRecord: Sendable {
  var sid: UUID
  var tenant: String
  var subject: String
  var userID: UUID?
  var serviceAccountID: UUID?
  var authMethod: String
  var clientAddress: String?
  var userAgent: String?
  var createdAt: Date
  var lastSeenAt: Date
  var expiresAt: Date
  var revokedAt: Date?
  var revokedReason: String?

  static let columns = """
    sid, tenant, subject, user_id, service_account_id, auth_method, host(client_address), user_agent,
    created_at, last_seen_at, expires_at, revoked_at, revoked_reason
    """
  typealias Row = (UUID, String, String, UUID?, UUID?, String, String?, String?, Date, Date, Date, Date?, String?)

  init(row: Row) {
    (self.sid, self.tenant, self.subject, self.userID, self.serviceAccountID, self.authMethod, self.clientAddress,
     self.userAgent, self.createdAt, self.lastSeenAt, self.expiresAt, self.revokedAt, self.revokedReason) = row
  }

  var kind: Principal.Kind { self.serviceAccountID == nil ? .user : .serviceAccount }

  var proto: Maestro_Auth_V1_Session {
    var session = Maestro_Auth_V1_Session()
    session.id = self.sid.uuidString.lowercased()
    session.tenant = self.tenant
    session.subjectKind = self.userID != nil ? .user : .serviceAccount
    session.subjectID = self.subject
    session.grantType = self.authMethod.replacingOccurrences(of: "_", with: "-")
    session.clientAddress = self.clientAddress ?? ""
    session.userAgent = self.userAgent ?? ""
    session.createdAt = .init(date: self.createdAt)
    session.lastRefreshedAt = .init(date: self.lastSeenAt)
    session.expiresAt = .init(date: self.expiresAt)
    if let revokedAt = self.revokedAt { session.revokedAt = .init(date: revokedAt) }
    session.revokeReason = self.revokedReason ?? ""
    return session
  }
}
