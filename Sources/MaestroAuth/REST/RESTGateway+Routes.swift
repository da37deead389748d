import Foundation
public import Hummingbird
import MaestroProtos

extension RESTGateway {
  /// Every REST route and the `AuthService` method whose permission it needs:
  ///
  /// | route | method |
  /// |---|---|
  /// | `POST /v1/auth/token` | Token (public) |
  /// | `POST /v1/auth/revoke` | RevokeToken (public) |
  /// | `GET /.well-known/jwks.json` | GetJWKS (public) |
  /// | `GET /.well-known/openid-configuration` | GetJWKS (public) |
  /// | `GET /v1/auth/me` | WhoAmI |
  /// | `POST /v1/auth/logout` | Logout |
  /// | `GET /v1/signing-keys`, `POST /v1/signing-keys:rotate` | ListSigningKeys, RotateSigningKeys |
  /// | `GET/POST /v1/tenants`, `GET /v1/tenants/{id}` | ListTenants, CreateTenant, GetTenant |
  /// | `GET/POST /v1/users`, `GET/PATCH/DELETE /v1/users/{id}`, `POST /v1/users/{id}/password` | ListUsers, CreateUser, GetUser, UpdateUser, DeleteUser, SetUserPassword |
  /// | `GET/POST /v1/service-accounts`, `DELETE /v1/service-accounts/{id}`, `POST /v1/service-accounts/{id}/secret` | List…, Create…, Delete…, RotateServiceAccountSecret |
  /// | `GET/POST /v1/role-bindings`, `DELETE /v1/role-bindings/{id}` | ListRoleBindings, CreateRoleBinding, DeleteRoleBinding |
  /// | `GET /v1/sessions`, `DELETE /v1/sessions/{id}` | ListSessions, RevokeSession |
  /// | `GET /v1/audit-events` | ListAuditEvents |
  public static let routeTable: [(method: String, path: String, rpc: String)] = [
    ("POST", "/v1/auth/token", "Token"), ("POST", "/v1/auth/revoke", "RevokeToken"),
    ("GET", "/.well-known/jwks.json", "GetJWKS"), ("GET", "/.well-known/openid-configuration", "GetJWKS"),
    ("GET", "/v1/auth/me", "WhoAmI"), ("POST", "/v1/auth/logout", "Logout"),
    ("GET", "/v1/signing-keys", "ListSigningKeys"), ("POST", "/v1/signing-keys:rotate", "RotateSigningKeys"),
    ("GET", "/v1/tenants", "ListTenants"), ("POST", "/v1/tenants", "CreateTenant"), ("GET", "/v1/tenants/{id}", "GetTenant"),
    ("GET", "/v1/users", "ListUsers"), ("POST", "/v1/users", "CreateUser"), ("GET", "/v1/users/{id}", "GetUser"),
    ("PATCH", "/v1/users/{id}", "UpdateUser"), ("DELETE", "/v1/users/{id}", "DeleteUser"), ("POST", "/v1/users/{id}/password", "SetUserPassword"),
    ("GET", "/v1/service-accounts", "ListServiceAccounts"), ("POST", "/v1/service-accounts", "CreateServiceAccount"),
    ("DELETE", "/v1/service-accounts/{id}", "DeleteServiceAccount"), ("POST", "/v1/service-accounts/{id}/secret", "RotateServiceAccountSecret"),
    ("GET", "/v1/role-bindings", "ListRoleBindings"), ("POST", "/v1/role-bindings", "CreateRoleBinding"), ("DELETE", "/v1/role-bindings/{id}", "DeleteRoleBinding"),
    ("GET", "/v1/sessions", "ListSessions"), ("DELETE", "/v1/sessions/{id}", "RevokeSession"),
    ("GET", "/v1/audit-events", "ListAuditEvents"),
  ]

  /// Adds the identity routes to `router`.
  public func addRoutes(to router: Router<GatewayRequestContext>) {
    self.addTokenRoutes(to: router)
    self.route(router, .get, "/v1/auth/me", rpc: "WhoAmI", body: .query) { $0.whoAmI }
    self.route(router, .post, "/v1/auth/logout", rpc: "Logout", body: .body) { $0.logout }
    self.route(router, .post, "/v1/auth/revoke", rpc: "RevokeToken", body: .body) { $0.revokeToken }
    self.route(router, .get, "/v1/signing-keys", rpc: "ListSigningKeys", body: .query) { $0.listSigningKeys }
    self.route(router, .post, "/v1/signing-keys:rotate", rpc: "RotateSigningKeys", body: .body) { $0.rotateSigningKeys }

    self.route(router, .get, "/v1/tenants", rpc: "ListTenants", body: .query) { $0.listTenants }
    self.route(router, .post, "/v1/tenants", rpc: "CreateTenant", body: .resource("tenant")) { $0.createTenant }
    self.route(router, .get, "/v1/tenants/{id}", rpc: "GetTenant", body: .query, pathFields: ["id": "tenant_id"]) { $0.getTenant }

    self.route(router, .get, "/v1/users", rpc: "ListUsers", body: .query) { $0.listUsers }
    self.route(router, .post, "/v1/users", rpc: "CreateUser", body: .body) { $0.createUser }
    self.route(router, .get, "/v1/users/{id}", rpc: "GetUser", body: .query, pathFields: ["id": "user_id"]) { $0.getUser }
    self.route(router, .patch, "/v1/users/{id}", rpc: "UpdateUser", body: .resource("user"), pathFields: ["id": "user.id"]) { $0.updateUser }
    self.route(router, .delete, "/v1/users/{id}", rpc: "DeleteUser", body: .query, pathFields: ["id": "user_id"]) { $0.deleteUser }
    self.route(router, .post, "/v1/users/{id}/password", rpc: "SetUserPassword", body: .body, pathFields: ["id": "user_id"]) { $0.setUserPassword }

    self.route(router, .get, "/v1/service-accounts", rpc: "ListServiceAccounts", body: .query) { $0.listServiceAccounts }
    self.route(router, .post, "/v1/service-accounts", rpc: "CreateServiceAccount", body: .body) { $0.createServiceAccount }
    self.route(router, .delete, "/v1/service-accounts/{id}", rpc: "DeleteServiceAccount", body: .query, pathFields: ["id": "service_account_id"]) { $0.deleteServiceAccount }
    self.route(router, .post, "/v1/service-accounts/{id}/secret", rpc: "RotateServiceAccountSecret", body: .body, pathFields: ["id": "service_account_id"]) { $0.rotateServiceAccountSecret }

    self.route(router, .get, "/v1/role-bindings", rpc: "ListRoleBindings", body: .query) { $0.listRoleBindings }
    self.route(router, .post, "/v1/role-bindings", rpc: "CreateRoleBinding", body: .resource("role_binding")) { $0.createRoleBinding }
    self.route(router, .delete, "/v1/role-bindings/{id}", rpc: "DeleteRoleBinding", body: .query, pathFields: ["id": "role_binding_id"]) { $0.deleteRoleBinding }

    self.route(router, .get, "/v1/sessions", rpc: "ListSessions", body: .query) { $0.listSessions }
    self.route(router, .delete, "/v1/sessions/{id}", rpc: "RevokeSession", body: .query, pathFields: ["id": "session_id"]) { $0.revokeSession }

    self.route(router, .get, "/v1/audit-events", rpc: "ListAuditEvents", body: .query) { $0.listAuditEvents }
  }
}
