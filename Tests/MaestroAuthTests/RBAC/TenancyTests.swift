import Foundation
import MaestroAuth
import MaestroCore
import MaestroProtos
import Testing

@Suite("Tenants, users, service accounts, role bindings and isolation (real Postgres)")
struct TenancyTests {
  @Test("another tenant's resources answer NOT_FOUND; naming another tenant needs admin")
  func isolation() async throws {
    try await GatewayFixture.with { gateway in
      let acmeAdmin = try await gateway.call(try await gateway.login(as: "boss", roles: [.tenantAdmin], tenant: "acme").accessToken)
      let globexAdmin = try await gateway.call(try await gateway.login(as: "boss", roles: [.tenantAdmin], tenant: "globex").accessToken)
      let created = try await gateway.api.createUser(.with {
        $0.user.username = "ann"
        $0.roles = [.viewer]
      }, call: acmeAdmin)
      #expect(created.user.meta.tenant == "acme")
      #expect(try await gateway.api.getUser(.with { $0.userID = created.user.id }, call: acmeAdmin).user.username == "ann")

      let hidden = await #expect(throws: MaestroError.self) {
        try await gateway.api.getUser(.with { $0.userID = created.user.id }, call: globexAdmin)
      }
      #expect(hidden?.code == .notFound)
      let deleteHidden = await #expect(throws: MaestroError.self) {
        try await gateway.api.deleteUser(.with { $0.userID = created.user.id }, call: globexAdmin)
      }
      #expect(deleteHidden?.code == .notFound)
      #expect(try await gateway.api.listUsers(.init(), call: globexAdmin).users.map(\.username) == ["boss"])
      let otherTenant = await #expect(throws: MaestroError.self) {
        try await gateway.api.getTenant(.with { $0.tenantID = "acme" }, call: globexAdmin)
      }
      #expect(otherTenant?.code == .notFound)

      var crossing = globexAdmin
      crossing.requestedTenant = "acme"
      let denied = await #expect(throws: MaestroError.self) { try await gateway.api.listUsers(.init(), call: crossing) }
      #expect(denied?.code == .permissionDenied)
    }
  }

  @Test("admin acts across tenants only explicitly, and every such access is audited")
  func crossTenantAdmin() async throws {
    try await GatewayFixture.with { gateway in
      _ = try await gateway.login(as: "boss", roles: [.tenantAdmin], tenant: "acme")
      let admin = try await gateway.call(try await gateway.password().accessToken)
      #expect(try await gateway.api.listUsers(.init(), call: admin).users.map(\.username) == ["admin"])
      let before = try await gateway.scalar("SELECT count(*)::int FROM audit_events WHERE type = 'tenant.cross_access'", as: Int.self)
      var crossing = admin
      crossing.requestedTenant = "acme"
      #expect(try await gateway.api.listUsers(.init(), call: crossing).users.map(\.username) == ["boss"])
      let who = try await gateway.api.whoAmI(.init(), call: crossing)
      #expect(who.tenant == "default")
      #expect(who.actingTenant == "acme")
      let after = try await gateway.scalar("SELECT count(*)::int FROM audit_events WHERE type = 'tenant.cross_access' AND tenant = 'acme'", as: Int.self)
      #expect(after == (before ?? 0) + 2)
    }
  }

  @Test("only admin grants admin or security-admin; bindings show up in the user's roles")
  func roleBindings() async throws {
    try await GatewayFixture.with { gateway in
      let tenantAdmin = try await gateway.call(try await gateway.login(as: "boss", roles: [.tenantAdmin]).accessToken)
      let user = try await gateway.api.createUser(.with { $0.user.username = "bob" }, call: tenantAdmin).user
      let escalate = await #expect(throws: MaestroError.self) {
        try await gateway.api.createRoleBinding(.with {
          $0.roleBinding.subjectKind = .user
          $0.roleBinding.subjectID = user.id
          $0.roleBinding.role = .admin
        }, call: tenantAdmin)
      }
      #expect(escalate?.code == .permissionDenied)
      let binding = try await gateway.api.createRoleBinding(.with {
        $0.roleBinding.subjectKind = .user
        $0.roleBinding.subjectID = user.id
        $0.roleBinding.role = .workflowAuthor
      }, call: tenantAdmin).roleBinding
      let duplicate = await #expect(throws: MaestroError.self) {
        try await gateway.api.createRoleBinding(.with {
          $0.roleBinding.subjectKind = .user
          $0.roleBinding.subjectID = user.id
          $0.roleBinding.role = .workflowAuthor
        }, call: tenantAdmin)
      }
      #expect(duplicate?.code == .alreadyExists)
      #expect(try await gateway.api.getUser(.with { $0.userID = user.id }, call: tenantAdmin).user.roles == [.workflowAuthor])
      let listed = try await gateway.api.listRoleBindings(.with { $0.subjectID = user.id }, call: tenantAdmin)
      #expect(listed.roleBindings.map(\.id) == [binding.id])
      _ = try await gateway.api.deleteRoleBinding(.with { $0.roleBindingID = binding.id }, call: tenantAdmin)
      #expect(try await gateway.api.getUser(.with { $0.userID = user.id }, call: tenantAdmin).user.roles.isEmpty)
      #expect(try await gateway.scalar("SELECT count(*)::int FROM audit_events WHERE type LIKE 'role_binding.%'", as: Int.self) == 2)
    }
  }

  @Test("users: create with password, update with a mask (disabling revokes sessions), change password, delete")
  func userLifecycle() async throws {
    try await GatewayFixture.with { gateway in
      let admin = try await gateway.call(try await gateway.password().accessToken)
      let weak = await #expect(throws: MaestroError.self) {
        try await gateway.api.createUser(.with {
          $0.user.username = "weak"
          $0.password = "short"
        }, call: admin)
      }
      #expect(weak?.field == "password")
      let token = try await gateway.login(as: "carol", roles: [.viewer])
      let carol = try await gateway.verify(token.accessToken)
      let updated = try await gateway.api.updateUser(.with {
        $0.user.id = carol.subject
        $0.user.displayName = "Carol C."
        $0.user.disabled = true
        $0.updateMask.paths = ["display_name", "disabled"]
      }, call: admin).user
      #expect(updated.displayName == "Carol C.")
      #expect(updated.disabled)
      #expect(gateway.runtime.revocations.isRevoked(carol.sessionID!))
      let disabled = await #expect(throws: OAuthError.self) { try await gateway.password("carol", "password-of-carol") }
      #expect(disabled?.code == .invalidGrant)
      let badMask = await #expect(throws: MaestroError.self) {
        try await gateway.api.updateUser(.with {
          $0.user.id = carol.subject
          $0.updateMask.paths = ["username"]
        }, call: admin)
      }
      #expect(badMask?.field == "update_mask")
      _ = try await gateway.api.setUserPassword(.with {
        $0.userID = carol.subject
        $0.newPassword = "a brand new passphrase"
      }, call: admin)
      _ = try await gateway.api.deleteUser(.with { $0.userID = carol.subject }, call: admin)
      let gone = await #expect(throws: MaestroError.self) { try await gateway.api.getUser(.with { $0.userID = carol.subject }, call: admin) }
      #expect(gone?.code == .notFound)
    }
  }

  @Test("service accounts: the secret is shown once, rotation keeps the old one for its grace period")
  func serviceAccounts() async throws {
    try await GatewayFixture.with { gateway in
      let admin = try await gateway.call(try await gateway.password().accessToken)
      let created = try await gateway.api.createServiceAccount(.with {
        $0.serviceAccount.name = "ci"
        $0.roles = [.workflowOperator]
      }, call: admin)
      #expect(!created.clientSecret.isEmpty)
      func token(_ secret: String) async throws -> Principal {
        try await gateway.verify(try await gateway.api.token(.with {
          $0.grantType = "client_credentials"
          $0.clientID = created.serviceAccount.clientID
          $0.clientSecret = secret
        }, call: CallContext()).accessToken)
      }
      #expect(try await token(created.clientSecret).roles == [.workflowOperator])
      let rotated = try await gateway.api.rotateServiceAccountSecret(.with {
        $0.serviceAccountID = created.serviceAccount.id
        $0.gracePeriod = .init(seconds: 3600)
      }, call: admin)
      _ = try await token(created.clientSecret)
      _ = try await token(rotated.clientSecret)
      let listed = try await gateway.api.listServiceAccounts(.with { $0.pageSize = 2 }, call: admin)
      #expect(listed.serviceAccounts.count == 2)
      #expect(!listed.nextPageToken.isEmpty)
      let rest = try await gateway.api.listServiceAccounts(.with {
        $0.pageSize = 500
        $0.pageToken = listed.nextPageToken
      }, call: admin)
      #expect(rest.serviceAccounts.count == 5)  // six bootstrapped (four backends, the gateway, the reference worker) + one created
      #expect(rest.nextPageToken.isEmpty)
      _ = try await gateway.api.deleteServiceAccount(.with { $0.serviceAccountID = created.serviceAccount.id }, call: admin)
      _ = await #expect(throws: OAuthError.self) { try await token(rotated.clientSecret) }
    }
  }

  @Test("tenants: admin creates and lists; others see only their own")
  func tenants() async throws {
    try await GatewayFixture.with { gateway in
      let admin = try await gateway.call(try await gateway.password().accessToken)
      _ = try await gateway.api.createTenant(.with { $0.tenant.id = "acme" }, call: admin)
      let invalid = await #expect(throws: MaestroError.self) { try await gateway.api.createTenant(.with { $0.tenant.id = "Not OK" }, call: admin) }
      #expect(invalid?.field == "tenant.id")
      let duplicate = await #expect(throws: MaestroError.self) { try await gateway.api.createTenant(.with { $0.tenant.id = "acme" }, call: admin) }
      #expect(duplicate?.code == .alreadyExists)
      #expect(try await gateway.api.listTenants(.init(), call: admin).tenants.map(\.id) == ["acme", "default"])
      let viewer = try await gateway.call(try await gateway.login(as: "v", roles: [.platformOperator], tenant: "acme").accessToken)
      #expect(try await gateway.api.listTenants(.init(), call: viewer).tenants.map(\.id) == ["acme"])
    }
  }
}
