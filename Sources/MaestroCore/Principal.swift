/// The verified caller of a request: who it is, for which tenant, with which roles.
///
/// Built only from a token whose signature and claims were verified; handlers read it from the
/// request context and scope every query by ``tenant``.
public struct Principal: Sendable, Hashable {
  /// Whether the caller is a person or a service account.
  public enum Kind: String, Sendable, Hashable {
    case user
    case serviceAccount = "service_account"
  }

  /// The token's `sub` claim.
  public var subject: String
  /// The tenant every query of this request is scoped to.
  public var tenant: String
  /// The roles bound to ``subject`` in ``tenant``.
  public var roles: Set<Role>
  public var kind: Kind
  /// The session the token belongs to (`sid`), if any.
  public var sessionID: String?
  /// The token's unique id (`jti`).
  public var tokenID: String?

  public init(
    subject: String,
    tenant: String,
    roles: Set<Role>,
    kind: Kind = .user,
    sessionID: String? = nil,
    tokenID: String? = nil
  ) {
    self.subject = subject
    self.tenant = tenant
    self.roles = roles
    self.kind = kind
    self.sessionID = sessionID
    self.tokenID = tokenID
  }

  /// Whether the principal holds `role`.
  public func has(_ role: Role) -> Bool { self.roles.contains(role) }
}
