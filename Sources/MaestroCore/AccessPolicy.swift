/// The permission model: which permission each RPC requires, and which permissions each role
/// grants. Fail closed: an RPC that is neither public nor mapped is denied to everyone.
///
/// The identity issue fills the matrix; this type is the mechanism every service and the
/// gateway share, so the decision is made the same way everywhere.
public struct AccessPolicy: Sendable {
  /// How a method may be called.
  public enum Requirement: Sendable, Hashable {
    /// No authentication (health checks, token endpoint, JWKS).
    case `public`
    /// Any authenticated principal.
    case authenticated
    /// An authenticated principal holding a role that grants the permission.
    case permission(Permission)
  }

  /// The outcome of ``decide(method:principal:)``.
  public enum Decision: Sendable, Hashable {
    case allow
    case denyUnauthenticated
    case denyUnmapped
    case denyMissingPermission(Permission)
  }

  /// Requirement by fully qualified method name, `package.Service/Method`.
  public private(set) var requirements: [String: Requirement]
  /// Permissions granted by each role.
  public private(set) var grants: [Role: Set<Permission>]

  public init(requirements: [String: Requirement] = [:], grants: [Role: Set<Permission>] = [:]) {
    self.requirements = requirements
    self.grants = grants
  }

  /// Sets the requirement of `method` (`package.Service/Method`).
  public mutating func require(_ requirement: Requirement, for method: String) {
    self.requirements[method] = requirement
  }

  /// Grants `permissions` to `role`.
  public mutating func grant(_ permissions: some Sequence<Permission>, to role: Role) {
    self.grants[role, default: []].formUnion(permissions)
  }

  /// The requirement of `method`, or `nil` when it is unmapped (and therefore denied).
  public func requirement(for method: String) -> Requirement? {
    self.requirements[method]
  }

  /// Whether `principal` (nil when the caller is not authenticated) may call `method`.
  public func decide(method: String, principal: Principal?) -> Decision {
    guard let requirement = self.requirements[method] else { return .denyUnmapped }
    switch requirement {
    case .public:
      return .allow
    case .authenticated:
      return principal == nil ? .denyUnauthenticated : .allow
    case .permission(let permission):
      guard let principal else { return .denyUnauthenticated }
      let granted = principal.roles.contains { self.grants[$0]?.contains(permission) ?? false }
      return granted ? .allow : .denyMissingPermission(permission)
    }
  }
}
