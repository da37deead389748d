import Foundation
import MaestroAuthModel
import MaestroCore
public import MaestroProtos

extension AuthAPI {
  /// The caller's own sessions by default; another subject's for tenant-admin, security-admin
  /// or admin.
  public func listSessions(_ request: Maestro_Auth_V1_ListSessionsRequest, call: CallContext) async throws -> Maestro_Auth_V1_ListSessionsResponse {
    let (principal, scope) = try await self.scope(call, method: "ListSessions")
    let subject = request.subjectID.isEmpty ? (scope.isCrossTenant ? nil : principal.subject) : request.subjectID.lowercased()
    if subject != principal.subject, !(principal.has(.tenantAdmin) || principal.has(.securityAdmin) || principal.has(.admin)) {
      throw MaestroError.permissionDenied("listing other subjects' sessions needs tenant-admin, security-admin or admin")
    }
    let size = try self.pageSize(request.pageSize)
    var after: UUID?
    if let values = try self.cursor(request.pageToken, list: "sessions", count: 1) {
      guard let sid = UUID(uuidString: values[0]) else { throw MaestroError.invalidArgument(field: "page_token", "is not a page token of this list") }
      after = sid
    }
    let rows = try await self.sessions.list(tenant: scope.tenant, subject: subject, includeRevoked: request.includeRevoked, pageSize: size, after: after)
    let (kept, next) = self.page(rows, size: size, list: "sessions") { [$0.sid.uuidString] }
    var response = Maestro_Auth_V1_ListSessionsResponse()
    response.sessions = kept.map(\.proto)
    response.nextPageToken = next
    return response
  }

  public func revokeSession(_ request: Maestro_Auth_V1_RevokeSessionRequest, call: CallContext) async throws -> Maestro_Auth_V1_RevokeSessionResponse {
    let (principal, scope) = try await self.scope(call, method: "RevokeSession")
    let sid = try StoreErrors.id(request.sessionID, kind: "session")
    let session = try await self.database.withTransaction { connection in
      guard let existing = try await self.sessions.session(tenant: scope.tenant, sid: sid, on: connection) else {
        throw MaestroError.notFound("session '\(request.sessionID)' not found")
      }
      guard existing.revokedAt == nil else { return existing }
      let revoked = try await self.sessions.revoke(tenant: scope.tenant, sid: sid, reason: "revoked_by_admin", by: principal.subject, on: connection) ?? existing
      var entry = self.entry(.sessionRevoked, tenant: scope.tenant, call: call)
      entry.targetType = "session"
      entry.targetID = sid.uuidString.lowercased()
      entry.details = ["subject_id": existing.subject, "reason": String(request.reason.prefix(500))]
      try await self.audit.append(entry, on: connection)
      return revoked
    }
    self.revocations.insert(sid.uuidString, until: session.expiresAt)
    return Maestro_Auth_V1_RevokeSessionResponse()
  }

  /// Revokes the caller's session (or all of them).
  public func logout(_ request: Maestro_Auth_V1_LogoutRequest, call: CallContext) async throws -> Maestro_Auth_V1_LogoutResponse {
    let principal = try call.caller()
    guard let subjectID = UUID(uuidString: principal.subject) else { return Maestro_Auth_V1_LogoutResponse() }
    let isAccount = principal.kind == .serviceAccount
    let revoked: [UUID] = try await self.database.withTransaction { connection in
      var revoked: [UUID] = []
      if request.allSessions {
        revoked = try await self.sessions.revokeAll(
          tenant: principal.tenant, userID: isAccount ? nil : subjectID, serviceAccountID: isAccount ? subjectID : nil,
          except: nil, reason: "logout", by: principal.subject, on: connection)
      } else if let sid = principal.sessionID.flatMap(UUID.init(uuidString:)),
        try await self.sessions.revoke(tenant: principal.tenant, sid: sid, reason: "logout", by: principal.subject, on: connection) != nil
      {
        revoked = [sid]
      }
      var entry = self.entry(.logout, tenant: principal.tenant, call: call)
      entry.targetType = "session"
      entry.targetID = request.allSessions ? "*" : principal.sessionID
      entry.details = ["revoked_sessions": String(revoked.count)]
      try await self.audit.append(entry, on: connection)
      return revoked
    }
    for sid in revoked { self.revocations.insert(sid.uuidString, until: self.clock.now() + self.configuration.sessionLifetime) }
    var response = Maestro_Auth_V1_LogoutResponse()
    response.revokedSessions = Int32(revoked.count)
    return response
  }

  /// RFC 7009: revokes the session of a refresh token or an access token; unknown tokens succeed.
  public func revokeToken(_ request: Maestro_Auth_V1_RevokeTokenRequest, call: CallContext) async throws -> Maestro_Auth_V1_RevokeTokenResponse {
    guard !request.token.isEmpty else { throw MaestroError.invalidArgument(field: "token", "is required") }
    var target: (tenant: String, sid: UUID)?
    if request.token.hasPrefix("rt.") {
      target = try await self.sessions.sessionOfRefreshToken(request.token)
    } else if let verifier = self.accessTokenVerifier, let principal = try? await verifier.verify(request.token),
      let sid = principal.sessionID.flatMap(UUID.init(uuidString:))
    {
      target = (principal.tenant, sid)
    }
    guard let target else { return Maestro_Auth_V1_RevokeTokenResponse() }
    let revoked = try await self.database.withTransaction { connection in
      let revoked = try await self.sessions.revoke(tenant: target.tenant, sid: target.sid, reason: "logout", by: nil, on: connection)
      if let revoked {
        var entry = self.entry(.tokenRevoked, tenant: target.tenant, call: call)
        entry.actorSubject = revoked.subject
        entry.actorTenant = revoked.tenant
        entry.targetType = "session"
        entry.targetID = target.sid.uuidString.lowercased()
        try await self.audit.append(entry, on: connection)
      }
      return revoked
    }
    if let revoked { self.revocations.insert(target.sid.uuidString, until: revoked.expiresAt) }
    return Maestro_Auth_V1_RevokeTokenResponse()
  }

  public func whoAmI(_ request: Maestro_Auth_V1_WhoAmIRequest, call: CallContext) async throws -> Maestro_Auth_V1_WhoAmIResponse {
    let (principal, scope) = try await self.scope(call, method: "WhoAmI")
    var response = Maestro_Auth_V1_WhoAmIResponse()
    response.subjectKind = principal.kind == .serviceAccount ? .serviceAccount : .user
    response.subjectID = principal.subject
    response.tenant = principal.tenant
    response.actingTenant = scope.tenant
    response.roles = principal.roles.sortedProtos
    let grants = AccessPolicy.maestro.grants
    response.permissions = principal.roles.reduce(into: Set<Permission>()) { $0.formUnion(grants[$1] ?? []) }.sorted().map(\.rawValue)
    response.sessionID = principal.sessionID ?? ""
    if let expires = call.tokenExpiresAt { response.tokenExpiresAt = .init(date: expires) }
    if let id = UUID(uuidString: principal.subject) {
      if principal.kind == .serviceAccount {
        response.name = try await self.identities.serviceAccount(tenant: principal.tenant, id: id)?.name ?? ""
      } else {
        response.name = try await self.identities.user(tenant: principal.tenant, id: id)?.username ?? ""
      }
    }
    return response
  }
}
