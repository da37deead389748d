import MaestroAuth
import MaestroCore
import Testing

/// Every role × every permission, allowed and denied, against an explicit table (so a change to
/// the matrix must change this table too), decided the way the interceptor and the REST router
/// decide: on a method that requires the permission.
@Suite("RBAC: every role × every permission")
struct RoleMatrixTests {
  static let readOnly = [
    "workflow.definitions.read", "workflow.runs.read", "scheduler.schedules.read", "metrics.slos.read",
    "metrics.alerts.read", "metrics.receivers.read", "metrics.stats.read",
  ]

  /// The documented matrix (README "Roles").
  static let expected: [Role: Set<String>] = [
    .viewer: Set(readOnly),
    .analyst: Set(readOnly + ["workflow.runs.signal"]),
    .workflowOperator: Set(readOnly + ["workflow.runs.execute", "workflow.runs.signal", "workflow.templates.instantiate", "scheduler.schedules.write", "metrics.alerts.manage", "workflow.tasks.work"]),
    .workflowAuthor: Set(readOnly + ["workflow.definitions.write", "workflow.runs.execute", "workflow.runs.signal", "workflow.templates.instantiate", "scheduler.schedules.write"]),
    .platformOperator: Set(readOnly + [
      "auth.keys.read", "auth.tenants.read", "metrics.events.record", "metrics.slos.write", "metrics.alerts.manage",
      "metrics.receivers.write", "migration.status.read", "migration.apply", "migration.expectations.register",
      "auth.sessions.read", "workflow.runs.execute", "workflow.runs.signal", "workflow.tasks.work",
    ]),
    .securityAdmin: [
      "auth.keys.read", "auth.keys.rotate", "auth.tenants.read", "auth.users.read", "auth.users.write",
      "auth.service_accounts.read", "auth.service_accounts.write", "auth.role_bindings.read", "auth.role_bindings.write",
      "auth.sessions.read", "auth.sessions.revoke", "auth.audit.read",
    ],
    .tenantAdmin: Set(readOnly + [
      "auth.tenants.read", "auth.users.read", "auth.users.write", "auth.service_accounts.read", "auth.service_accounts.write",
      "auth.role_bindings.read", "auth.role_bindings.write", "auth.sessions.read", "auth.sessions.revoke",
      "workflow.definitions.write", "workflow.runs.execute", "workflow.runs.signal", "workflow.templates.instantiate", "scheduler.schedules.write",
      "metrics.slos.write", "metrics.alerts.manage", "metrics.receivers.write",
    ]),
    .admin: Set(allPermissions.map(\.rawValue)),
  ]

  /// Every permission some method requires.
  static let allPermissions: [Permission] = Set(MaestroPermissions.requirements.values.compactMap { requirement -> Permission? in
    if case .permission(let permission) = requirement { permission } else { nil }
  }).sorted()

  /// One method that requires each permission.
  static let methodFor: [Permission: String] = {
    var table: [Permission: String] = [:]
    for (method, requirement) in MaestroPermissions.requirements.sorted(by: { $0.key < $1.key }) {
      if case .permission(let permission) = requirement, table[permission] == nil { table[permission] = method }
    }
    return table
  }()

  static let cases: [(Role, Permission)] = Role.allCases.flatMap { role in allPermissions.map { (role, $0) } }

  @Test("exactly eight roles")
  func eightRoles() {
    #expect(Role.allCases.map(\.rawValue) == [
      "admin", "security-admin", "platform-operator", "tenant-admin", "workflow-author", "workflow-operator", "analyst", "viewer",
    ])
  }

  @Test("role × permission is allowed exactly when the table says so", arguments: cases)
  func decision(role: Role, permission: Permission) throws {
    let method = try #require(Self.methodFor[permission])
    let principal = Principal(subject: "s", tenant: "t", roles: [role])
    let decision = AccessPolicy.maestro.decide(method: method, principal: principal)
    let allowed = Self.expected[role]?.contains(permission.rawValue) ?? false
    #expect(decision == (allowed ? .allow : .denyMissingPermission(permission)), "\(role.rawValue) \(permission) via \(method)")
  }

  @Test("no principal is denied as unauthenticated, unmapped methods are denied to admin too")
  func failClosed() {
    let method = Self.methodFor[Self.allPermissions[0]]!
    #expect(AccessPolicy.maestro.decide(method: method, principal: nil) == .denyUnauthenticated)
    let admin = Principal(subject: "a", tenant: "t", roles: [.admin])
    #expect(AccessPolicy.maestro.decide(method: "maestro.auth.v1.AuthService/Nope", principal: admin) == .denyUnmapped)
  }

  @Test("every REST route maps to an AuthService method in the policy")
  func restRoutesMapped() {
    for route in RESTGateway.routeTable {
      #expect(AccessPolicy.maestro.requirement(for: "maestro.auth.v1.AuthService/\(route.rpc)") != nil, "\(route.method) \(route.path)")
    }
  }
}
