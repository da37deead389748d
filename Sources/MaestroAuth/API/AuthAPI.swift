import Foundation
import Logging
import MaestroAuthModel
import MaestroCore
import MaestroKit
import MaestroProtos
import PostgresNIO

/// The gateway's identity engine: one method per `AuthService` RPC, shared by the gRPC service
/// and the REST router. Callers have already been authorised against the access policy (the
/// permission each method needs); the methods add the finer rules: tenant scope (cross-tenant
/// only for admin, explicit and audited; other tenants' resources are NOT_FOUND), who may
/// grant which role, and audit events.
public struct AuthAPI: Sendable {
  let configuration: GatewayConfiguration
  let database: Database
  let identities: IdentityStore
  let sessions: SessionStore
  let backoff: LoginBackoffStore
  let audit: AuditStore
  let keys: SigningKeyStore
  let keyRing: KeyRing
  let revocations: RevocationList
  let oidc: OIDCTokenVerifier
  let clock: any AuthClock
  let logger: Logger
  let accessTokenVerifier: TokenVerifier?

  init(runtime: GatewayRuntime) {
    self.configuration = runtime.configuration
    self.database = runtime.database
    self.identities = runtime.identities
    self.sessions = runtime.sessions
    self.backoff = runtime.backoff
    self.audit = runtime.audit
    self.keys = runtime.keys
    self.keyRing = runtime.keyRing
    self.revocations = runtime.revocations
    self.oidc = runtime.oidc
    self.clock = runtime.clock
    self.logger = runtime.logger
    self.accessTokenVerifier = runtime.verifier
  }

  /// The tenant the call acts in; audits cross-tenant access.
  func scope(_ call: CallContext, method: String) async throws -> (Principal, TenantScope) {
    let principal = try call.caller()
    let scope = try TenantScope.resolve(principal: principal, requested: call.requestedTenant)
    if scope.isCrossTenant {
      var entry = self.entry(.crossTenantAccess, tenant: scope.tenant, call: call)
      entry.details = ["method": method]
      try await self.audit.append(entry)
    }
    return (principal, scope)
  }

  /// An audit entry with the caller's identity and request details filled in.
  func entry(_ kind: AuditEventKind, tenant: String, call: CallContext, outcome: AuditEntry.Outcome = .success) -> AuditEntry {
    AuditEntry(
      kind: kind, tenant: tenant, outcome: outcome,
      actorSubject: call.principal?.subject, actorTenant: call.principal?.tenant, actorKind: call.principal?.kind.rawValue,
      sessionID: call.principal?.sessionID.flatMap(UUID.init(uuidString:)),
      clientAddress: call.clientAddress, userAgent: call.userAgent, requestID: call.requestID
    )
  }

  /// The page size of a list request, or INVALID_ARGUMENT.
  func pageSize(_ requested: Int32) throws(MaestroError) -> Int {
    guard let size = Paging.pageSize(requested) else { throw .invalidArgument(field: "page_size", "must not be negative") }
    return size
  }

  /// The decoded cursor of a list request (nil for the first page), or INVALID_ARGUMENT.
  func cursor(_ token: String, list: String, count: Int) throws(MaestroError) -> [String]? {
    guard !token.isEmpty else { return nil }
    guard let cursor = PageCursor(token: token, list: list, count: count) else {
      throw .invalidArgument(field: "page_token", "is not a page token of this list")
    }
    return cursor.values
  }

  /// Trims `rows` to `size` and makes the next page token from the last kept row.
  func page<Row>(_ rows: [Row], size: Int, list: String, key: (Row) -> [String]) -> ([Row], String) {
    guard rows.count > size else { return (rows, "") }
    let kept = Array(rows.prefix(size))
    return (kept, PageCursor(list: list, values: key(kept[size - 1])).token)
  }
}
