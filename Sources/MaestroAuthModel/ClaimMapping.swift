public import MaestroCore

/// How an external provider's ID-token claims become a Maestro tenant, roles and username.
///
/// Tenant: the value of ``tenantClaim`` if set and present, else ``defaultTenant``. Roles: the
/// union of ``rolesClaim`` values that are Maestro role names and the roles that
/// ``groupRoles`` maps each ``groupsClaim`` value to; ``defaultRoles`` when the union is empty.
/// A login that maps to no role at all is refused (fail closed). `admin` can never come from an
/// external provider unless ``allowAdmin`` is set.
public struct ClaimMapping: Sendable, Hashable, Codable {
  public var tenantClaim: String?
  public var defaultTenant: String?
  public var rolesClaim: String?
  public var groupsClaim: String?
  public var groupRoles: [String: [String]]
  public var defaultRoles: [String]
  public var usernameClaim: String
  public var allowAdmin: Bool

  enum CodingKeys: String, CodingKey {
    case tenantClaim = "tenant_claim"
    case defaultTenant = "default_tenant"
    case rolesClaim = "roles_claim"
    case groupsClaim = "groups_claim"
    case groupRoles = "group_roles"
    case defaultRoles = "default_roles"
    case usernameClaim = "username_claim"
    case allowAdmin = "allow_admin"
  }

  public init(
    tenantClaim: String? = nil,
    defaultTenant: String? = "default",
    rolesClaim: String? = nil,
    groupsClaim: String? = nil,
    groupRoles: [String: [String]] = [:],
    defaultRoles: [String] = [],
    usernameClaim: String = "email",
    allowAdmin: Bool = false
  ) {
    self.tenantClaim = tenantClaim
    self.defaultTenant = defaultTenant
    self.rolesClaim = rolesClaim
    self.groupsClaim = groupsClaim
    self.groupRoles = groupRoles
    self.defaultRoles = defaultRoles
    self.usernameClaim = usernameClaim
    self.allowAdmin = allowAdmin
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    self.tenantClaim = try container.decodeIfPresent(String.self, forKey: .tenantClaim)
    self.defaultTenant = try container.decodeIfPresent(String.self, forKey: .defaultTenant)
    self.rolesClaim = try container.decodeIfPresent(String.self, forKey: .rolesClaim)
    self.groupsClaim = try container.decodeIfPresent(String.self, forKey: .groupsClaim)
    self.groupRoles = try container.decodeIfPresent([String: [String]].self, forKey: .groupRoles) ?? [:]
    self.defaultRoles = try container.decodeIfPresent([String].self, forKey: .defaultRoles) ?? []
    self.usernameClaim = try container.decodeIfPresent(String.self, forKey: .usernameClaim) ?? "email"
    self.allowAdmin = try container.decodeIfPresent(Bool.self, forKey: .allowAdmin) ?? false
  }

  /// The identity an external login maps to.
  public struct Identity: Sendable, Hashable {
    public var tenant: String
    public var roles: Set<Role>
    public var username: String

    public init(tenant: String, roles: Set<Role>, username: String) {
      self.tenant = tenant
      self.roles = roles
      self.username = username
    }
  }

  /// Why a mapping failed (the message is safe to show the caller).
  public struct Failure: Error, Sendable, Hashable {
    public var message: String
  }

  /// Maps verified claims (`sub` must be present) to a Maestro identity.
  public func map(claims: [String: ClaimValue]) -> Result<Identity, Failure> {
    let tenant = self.tenantClaim.flatMap { claims[$0]?.stringValue } ?? self.defaultTenant
    guard let tenant, !tenant.isEmpty else {
      return .failure(Failure(message: "the ID token carries no tenant claim and the provider has no default tenant"))
    }
    var names: [String] = []
    if let rolesClaim = self.rolesClaim { names += claims[rolesClaim]?.stringList ?? [] }
    if let groupsClaim = self.groupsClaim {
      for group in claims[groupsClaim]?.stringList ?? [] { names += self.groupRoles[group] ?? [] }
    }
    var roles = Set(names.compactMap(Role.init(rawValue:)))
    if roles.isEmpty { roles = Set(self.defaultRoles.compactMap(Role.init(rawValue:))) }
    if !self.allowAdmin { roles.remove(.admin) }
    guard !roles.isEmpty else {
      return .failure(Failure(message: "the ID token maps to no Maestro role"))
    }
    let subject = claims["sub"]?.stringValue ?? ""
    let username = (claims[self.usernameClaim]?.stringValue ?? subject).lowercased()
    guard !username.isEmpty else { return .failure(Failure(message: "the ID token has no subject")) }
    return .success(Identity(tenant: tenant.lowercased(), roles: roles, username: String(username.prefix(128))))
  }
}
