import Foundation
import MaestroAuthModel
import MaestroCore
import MaestroKit
public import MaestroProtos

extension AuthAPI {
  static let tokenExchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange"
  static let accessTokenType = "urn:ietf:params:oauth:token-type:access_token"
  static let subjectTokenTypes: Set<String> = ["urn:ietf:params:oauth:token-type:id_token", "urn:ietf:params:oauth:token-type:jwt"]

  /// The token endpoint. Throws ``OAuthError``.
  public func token(_ request: Maestro_Auth_V1_TokenRequest, call: CallContext) async throws -> Maestro_Auth_V1_TokenResponse {
    if !request.audience.isEmpty, request.audience != self.configuration.audience {
      throw OAuthError(.invalidTarget, "audience must be empty or '\(self.configuration.audience)'")
    }
    do {
      switch request.grantType {
      case "password": return try await self.passwordGrant(request, call: call)
      case "client_credentials": return try await self.clientCredentialsGrant(request, call: call)
      case "refresh_token": return try await self.refreshGrant(request, call: call)
      case Self.tokenExchangeGrant: return try await self.exchangeGrant(request, call: call)
      case "": throw OAuthError(.invalidRequest, "grant_type is required")
      default: throw OAuthError(.unsupportedGrantType, "grant_type '\(request.grantType)' is not supported")
      }
    } catch let error as OAuthError {
      throw error
    } catch let error as MaestroError where error.code == .unavailable {
      throw OAuthError(.temporarilyUnavailable, error.message)
    } catch {
      self.logger.error("token grant failed", metadata: ["grant_type": "\(request.grantType)", "error": "\(error)", "request_id": "\(call.requestID ?? "")"])
      throw OAuthError(.serverError, "internal error")
    }
  }

  private func passwordGrant(_ request: Maestro_Auth_V1_TokenRequest, call: CallContext) async throws -> Maestro_Auth_V1_TokenResponse {
    guard !request.username.isEmpty, !request.password.isEmpty else {
      throw OAuthError(.invalidRequest, "username and password are required")
    }
    let tenant = request.tenant.isEmpty ? "default" : request.tenant.lowercased()
    let username = String(request.username.lowercased().prefix(128))
    let now = self.clock.now()
    let address = call.clientAddress.flatMap(ClientAddress.normalised)
    var audit = AuditEntry(kind: .loginFailed, tenant: tenant, clientAddress: address, userAgent: call.userAgent, requestID: call.requestID, targetType: "user", targetID: username, details: ["username": username, "grant_type": "password"])

    if let until = try await self.backoff.lockedUntil(tenant: tenant, username: username, address: address, now: now) {
      audit.kind = .loginThrottled
      audit.outcome = .denied
      await self.audit.record(audit)
      let retry = max(1, Int(until.timeIntervalSince(now).rounded(.up)))
      throw OAuthError(.tooManyRequests, "too many failed login attempts; retry in \(retry) s", retryAfter: retry)
    }

    let user = try await self.identities.user(tenant: tenant, username: username)
    let matches: Bool
    if let stored = user?.password {
      matches = try PasswordHasher.verify(request.password, against: stored)
    } else {
      // Same work for unknown users, so timing does not reveal which accounts exist.
      _ = try PasswordHasher(parameters: self.configuration.passwordPolicy.scrypt).hash(request.password)
      matches = false
    }
    guard matches, let user else {
      try await self.backoff.recordFailure(tenant: tenant, username: username, address: address, now: now)
      audit.outcome = .failure
      audit.details["reason"] = "bad_credentials"
      await self.audit.record(audit)
      throw OAuthError(.invalidGrant, "invalid username or password")
    }
    guard !user.disabled, try await self.identities.tenantIsActive(tenant) else {
      audit.outcome = .denied
      audit.details["reason"] = "disabled"
      await self.audit.record(audit)
      throw OAuthError(.invalidGrant, "the account is disabled")
    }
    try await self.backoff.recordSuccess(tenant: tenant, username: username)
    if let stored = user.password, self.configuration.passwordPolicy.needsRehash(stored.parameters) {
      let upgraded = try PasswordHasher(parameters: self.configuration.passwordPolicy.scrypt).hash(request.password)
      _ = try await self.identities.setPassword(tenant: tenant, id: user.id, hash: upgraded)
    }
    try await self.identities.recordLogin(tenant: tenant, userID: user.id)
    let subject = user.id.uuidString.lowercased()
    let roles = try await self.identities.roles(tenant: tenant, userID: user.id)
    let response = try await self.startSession(
      SessionStore.NewSession(
        tenant: tenant, subject: subject, userID: user.id, serviceAccountID: nil, authMethod: "password", oidcIssuer: nil,
        clientAddress: address, userAgent: call.userAgent, createdAt: now, expiresAt: now + self.configuration.sessionLifetime, withRefreshToken: true),
      roles: roles, kind: .user, call: call
    )
    audit.kind = .loginSucceeded
    audit.outcome = .success
    audit.actorSubject = subject
    audit.actorTenant = tenant
    audit.actorKind = Principal.Kind.user.rawValue
    audit.sessionID = response.sid
    audit.targetID = subject
    try await self.audit.append(audit)
    return response.token
  }

  private func clientCredentialsGrant(_ request: Maestro_Auth_V1_TokenRequest, call: CallContext) async throws -> Maestro_Auth_V1_TokenResponse {
    guard !request.clientID.isEmpty, !request.clientSecret.isEmpty else {
      throw OAuthError(.invalidRequest, "client_id and client_secret are required")
    }
    let address = call.clientAddress.flatMap(ClientAddress.normalised)
    guard let account = try await self.identities.authenticateClient(clientID: request.clientID, secret: request.clientSecret),
      !account.disabled, try await self.identities.tenantIsActive(account.tenant)
    else {
      await self.audit.record(AuditEntry(
        kind: .loginFailed, tenant: "default", outcome: .failure, clientAddress: address, userAgent: call.userAgent, requestID: call.requestID,
        targetType: "client", targetID: String(request.clientID.prefix(128)), details: ["grant_type": "client_credentials"]))
      throw OAuthError(.invalidClient, "client authentication failed")
    }
    let now = self.clock.now()
    let subject = account.id.uuidString.lowercased()
    let roles = try await self.identities.roles(tenant: account.tenant, serviceAccountID: account.id)
    let response = try await self.startSession(
      SessionStore.NewSession(
        tenant: account.tenant, subject: subject, userID: nil, serviceAccountID: account.id, authMethod: "client_credentials", oidcIssuer: nil,
        clientAddress: address, userAgent: call.userAgent, createdAt: now, expiresAt: now + self.configuration.accessTokenLifetime, withRefreshToken: false),
      roles: roles, kind: .serviceAccount, call: call
    )
    return response.token
  }

  private func refreshGrant(_ request: Maestro_Auth_V1_TokenRequest, call: CallContext) async throws -> Maestro_Auth_V1_TokenResponse {
    guard !request.refreshToken.isEmpty else { throw OAuthError(.invalidRequest, "refresh_token is required") }
    let now = self.clock.now()
    switch try await self.sessions.refresh(token: request.refreshToken, now: now) {
    case .invalid:
      throw OAuthError(.invalidGrant, "the refresh token is invalid, expired or revoked")
    case .reused(let session):
      self.revocations.insert(session.sid.uuidString, until: session.expiresAt)
      var entry = AuditEntry(kind: .refreshTokenReused, tenant: session.tenant, outcome: .denied, actorSubject: session.subject, actorTenant: session.tenant,
        sessionID: session.sid, clientAddress: call.clientAddress.flatMap(ClientAddress.normalised), userAgent: call.userAgent, requestID: call.requestID,
        targetType: "session", targetID: session.sid.uuidString.lowercased())
      entry.details = ["reason": "refresh_token_reuse"]
      await self.audit.record(entry)
      throw OAuthError(.invalidGrant, "the refresh token was already used; its session has been revoked")
    case .rotated(let session, let refreshToken):
      guard try await self.identities.tenantIsActive(session.tenant) else { throw OAuthError(.invalidGrant, "the tenant is disabled") }
      if let userID = session.userID {
        guard let user = try await self.identities.user(tenant: session.tenant, id: userID), !user.disabled else {
          throw OAuthError(.invalidGrant, "the account is disabled")
        }
      }
      let roles = try await self.identities.roles(tenant: session.tenant, userID: session.userID, serviceAccountID: session.serviceAccountID)
      var response = try await self.issue(subject: session.subject, tenant: session.tenant, roles: roles, kind: session.kind, sid: session.sid, now: now)
      response.refreshToken = refreshToken
      return response
    }
  }

  /// Creates the session (session limit applies), audits evictions, and issues the tokens.
  func startSession(_ new: SessionStore.NewSession, roles: Set<Role>, kind: Principal.Kind, call: CallContext) async throws -> (token: Maestro_Auth_V1_TokenResponse, sid: UUID) {
    let created: SessionStore.Created
    do {
      created = try await self.sessions.create(new, limit: self.configuration.sessionLimit)
    } catch let error as MaestroError where error.code == .resourceExhausted {
      var entry = AuditEntry(kind: .loginFailed, tenant: new.tenant, outcome: .denied, actorSubject: new.subject, actorTenant: new.tenant,
        clientAddress: new.clientAddress, userAgent: new.userAgent, requestID: call.requestID, targetType: "user", targetID: new.subject)
      entry.details = ["reason": "session_limit"]
      await self.audit.record(entry)
      throw OAuthError(.tooManyRequests, error.message)
    }
    for sid in created.evicted {
      self.revocations.insert(sid.uuidString, until: new.expiresAt)
      await self.audit.record(AuditEntry(kind: .sessionEvicted, tenant: new.tenant, actorSubject: new.subject, actorTenant: new.tenant,
        requestID: call.requestID, targetType: "session", targetID: sid.uuidString.lowercased(), details: ["reason": "session_limit_evicted"]))
    }
    var response = try await self.issue(subject: new.subject, tenant: new.tenant, roles: roles, kind: kind, sid: created.sid, now: new.createdAt)
    response.refreshToken = created.refreshToken ?? ""
    return (response, created.sid)
  }

  /// Signs an access token.
  func issue(subject: String, tenant: String, roles: Set<Role>, kind: Principal.Kind, sid: UUID, now: Date) async throws -> Maestro_Auth_V1_TokenResponse {
    let lifetime = self.configuration.accessTokenLifetime
    let issuedAt = Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down))
    let claims = AccessTokenClaims(
      issuer: self.configuration.issuer, subject: subject, audience: [self.configuration.audience],
      expiration: issuedAt + lifetime, issuedAt: issuedAt, notBefore: issuedAt, tokenID: UUID().uuidString.lowercased(),
      sessionID: sid.uuidString.lowercased(), tenant: tenant, roles: Role.allCases.filter(roles.contains).map(\.rawValue),
      principalType: kind.rawValue
    )
    var response = Maestro_Auth_V1_TokenResponse()
    response.accessToken = try await self.keyRing.sign(claims)
    response.tokenType = "Bearer"
    response.expiresIn = lifetime.components.seconds
    return response
  }
}
