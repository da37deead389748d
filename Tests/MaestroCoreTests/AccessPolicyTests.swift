import MaestroCore
import Testing

@Suite("AccessPolicy")
struct AccessPolicyTests {
  static let read: Permission = "things.read"
  static let write: Permission = "things.write"

  static var policy: AccessPolicy {
    var policy = AccessPolicy()
    policy.require(.public, for: "pkg.S/Public")
    policy.require(.authenticated, for: "pkg.S/Me")
    policy.require(.permission(read), for: "pkg.S/Read")
    policy.require(.permission(write), for: "pkg.S/Write")
    policy.grant([read], to: .viewer)
    policy.grant([read, write], to: .workflowAuthor)
    return policy
  }

  static func principal(_ roles: Role...) -> Principal {
    Principal(subject: "u1", tenant: "t1", roles: Set(roles))
  }

  @Test(
    "decides by requirement and roles",
    arguments: [
      ("pkg.S/Public", nil, AccessPolicy.Decision.allow),
      ("pkg.S/Me", nil, .denyUnauthenticated),
      ("pkg.S/Me", principal(), .allow),
      ("pkg.S/Read", nil, .denyUnauthenticated),
      ("pkg.S/Read", principal(.viewer), .allow),
      ("pkg.S/Write", principal(.viewer), .denyMissingPermission(write)),
      ("pkg.S/Write", principal(.viewer, .workflowAuthor), .allow),
      ("pkg.S/Write", principal(.admin), .denyMissingPermission(write)),
      ("pkg.S/Unmapped", principal(.admin), .denyUnmapped),
      ("pkg.S/Unmapped", nil, .denyUnmapped),
    ] as [(String, Principal?, AccessPolicy.Decision)]
  )
  func decides(method: String, principal: Principal?, expected: AccessPolicy.Decision) {
    #expect(Self.policy.decide(method: method, principal: principal) == expected)
  }

  @Test("there are exactly the eight documented roles")
  func eightRoles() {
    #expect(Role.allCases.map(\.rawValue) == [
      "admin", "security-admin", "platform-operator", "tenant-admin",
      "workflow-author", "workflow-operator", "analyst", "viewer",
    ])
  }
}
