import Foundation

/// One security event to append to the audit log. `details` never holds secrets.
struct AuditEntry: Sendable {
  enum Outcome: String, Sendable {
    case success, failure, denied
  }

  var kind: AuditEventKind
  /// The tenant the event concerns (for cross-tenant access: the target tenant).
  var tenant: String
  var outcome: Outcome = .success
  var actorSubject: String?
  var actorTenant: String?
  var actorKind: String?
  var sessionID: UUID?
  var clientAddress: String?
  var userAgent: String?
  var requestID: String?
  /// e.g. `user`, `session`, `signing_key`.
  var targetType: String?
  var targetID: String?
  var details: [String: String] = [:]
}
