import MaestroAuthModel
import MaestroCore
import Testing

@Suite("OIDC claim mapping (pure)")
struct ClaimMappingTests {
  let mapping = ClaimMapping(
    tenantClaim: "https://maestro.example/tenant", defaultTenant: "default", rolesClaim: "roles", groupsClaim: "groups",
    groupRoles: ["eng": ["workflow-author"], "sre": ["workflow-operator", "analyst"], "root": ["admin"]],
    defaultRoles: ["viewer"], usernameClaim: "email"
  )

  @Test("tenant from its claim, roles from roles and groups, username from email")
  func full() throws {
    let identity = try self.mapping.map(claims: [
      "sub": .string("ext-1"), "email": .string("Ann@Example.com"), "https://maestro.example/tenant": .string("Acme"),
      "roles": .strings(["analyst", "not-a-role"]), "groups": .strings(["eng", "unknown"]),
    ]).get()
    #expect(identity == ClaimMapping.Identity(tenant: "acme", roles: [.analyst, .workflowAuthor], username: "ann@example.com"))
  }

  @Test("no mapped role falls back to the default roles; none at all is refused")
  func defaults() throws {
    let identity = try self.mapping.map(claims: ["sub": .string("x")]).get()
    #expect(identity.roles == [.viewer])
    #expect(identity.tenant == "default")
    #expect(identity.username == "x")
    var strict = self.mapping
    strict.defaultRoles = []
    #expect(throws: ClaimMapping.Failure.self) { try strict.map(claims: ["sub": .string("x")]).get() }
  }

  @Test("admin never comes from a provider unless allowed")
  func noAdmin() throws {
    let claims: [String: ClaimValue] = ["sub": .string("x"), "groups": .strings(["root", "eng"])]
    #expect(try self.mapping.map(claims: claims).get().roles == [.workflowAuthor])
    var trusting = self.mapping
    trusting.allowAdmin = true
    #expect(try trusting.map(claims: claims).get().roles == [.admin, .workflowAuthor])
  }

  @Test("no tenant claim and no default tenant is refused")
  func noTenant() {
    var mapping = self.mapping
    mapping.defaultTenant = nil
    #expect(throws: ClaimMapping.Failure.self) { try mapping.map(claims: ["sub": .string("x")]).get() }
  }
}
