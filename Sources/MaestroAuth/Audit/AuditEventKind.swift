import MaestroProtos

/// The audit event types, as stored (`auth.audit_events.type`) and as the API's enum.
enum AuditEventKind: String, Sendable, CaseIterable {
  case loginSucceeded = "login.succeeded"
  case loginFailed = "login.failed"
  case loginThrottled = "login.throttled"
  case tokenExchanged = "token.exchanged"
  case tokenExchangeFailed = "token.exchange_failed"
  case refreshTokenReused = "token.refresh_reused"
  case tokenRevoked = "token.revoked"
  case keyRotated = "key.rotated"
  case keyEmergencyRotated = "key.emergency_rotated"
  case keyPurged = "key.purged"
  case roleBindingCreated = "role_binding.created"
  case roleBindingDeleted = "role_binding.deleted"
  case sessionRevoked = "session.revoked"
  case sessionEvicted = "session.evicted"
  case logout = "session.logout"
  case crossTenantAccess = "tenant.cross_access"
  case permissionDenied = "access.denied"
  case userCreated = "user.created"
  case userUpdated = "user.updated"
  case userDeleted = "user.deleted"
  case passwordChanged = "user.password_changed"
  case serviceAccountCreated = "service_account.created"
  case serviceAccountDeleted = "service_account.deleted"
  case serviceAccountSecretRotated = "service_account.secret_rotated"
  case tenantCreated = "tenant.created"

  var proto: Maestro_Auth_V1_AuditEventType {
    switch self {
    case .loginSucceeded: .loginSucceeded
    case .loginFailed: .loginFailed
    case .loginThrottled: .loginThrottled
    case .tokenExchanged: .tokenExchanged
    case .tokenExchangeFailed: .tokenExchangeFailed
    case .refreshTokenReused: .refreshTokenReused
    case .tokenRevoked: .tokenRevoked
    case .keyRotated: .keyRotated
    case .keyEmergencyRotated: .keyEmergencyRotated
    case .keyPurged: .keyPurged
    case .roleBindingCreated: .roleBindingCreated
    case .roleBindingDeleted: .roleBindingDeleted
    case .sessionRevoked: .sessionRevoked
    case .sessionEvicted: .sessionEvicted
    case .logout: .logout
    case .crossTenantAccess: .crossTenantAccess
    case .permissionDenied: .permissionDenied
    case .userCreated: .userCreated
    case .userUpdated: .userUpdated
    case .userDeleted: .userDeleted
    case .passwordChanged: .passwordChanged
    case .serviceAccountCreated: .serviceAccountCreated
    case .serviceAccountDeleted: .serviceAccountDeleted
    case .serviceAccountSecretRotated: .serviceAccountSecretRotated
    case .tenantCreated: .tenantCreated
    }
  }

  init?(proto: Maestro_Auth_V1_AuditEventType) {
    guard let kind = Self.allCases.first(where: { $0.proto == proto }) else { return nil }
    self = kind
  }
}
