import Foundation
import MaestroAuthModel
import MaestroCore
import MaestroProtos
import PostgresNIO

extension AuthAPI {
  /// RFC 8693: an external OIDC ID token becomes a Maestro session. The user is provisioned on
  /// first exchange (linked by issuer + subject), and their role bindings follow the
  /// provider's claim mapping on every exchange.
  func exchangeGrant(_ request: Maestro_Auth_V1_TokenRequest, call: CallContext) async throws -> Maestro_Auth_V1_TokenResponse {
    guard !request.subjectToken.isEmpty else { throw OAuthError(.invalidRequest, "subject_token is required") }
    guard Self.subjectTokenTypes.contains(request.subjectTokenType) else {
      throw OAuthError(.invalidRequest, "subject_token_type must be urn:ietf:params:oauth:token-type:id_token or …:jwt")
    }
    guard request.requestedTokenType.isEmpty || request.requestedTokenType == Self.accessTokenType else {
      throw OAuthError(.invalidRequest, "requested_token_type must be \(Self.accessTokenType)")
    }
    let address = call.clientAddress.flatMap(ClientAddress.normalised)
    guard self.oidc.isEnabled else { throw OAuthError(.invalidGrant, "no external identity provider is configured") }
    let verified: OIDCTokenVerifier.Verified
    do {
      verified = try await self.oidc.verify(request.subjectToken)
    } catch {
      await self.audit.record(AuditEntry(kind: .tokenExchangeFailed, tenant: "default", outcome: .failure, clientAddress: address,
        userAgent: call.userAgent, requestID: call.requestID, details: ["reason": error.message]))
      if error.code == .unavailable { throw OAuthError(.temporarilyUnavailable, error.message) }
      let message = error.message.hasPrefix("invalid_grant: ") ? String(error.message.dropFirst(15)) : error.message
      throw OAuthError(.invalidGrant, message)
    }
    let identity = verified.identity
    guard try await self.identities.tenantIsActive(identity.tenant) else {
      await self.audit.record(AuditEntry(kind: .tokenExchangeFailed, tenant: identity.tenant, outcome: .denied, clientAddress: address,
        requestID: call.requestID, details: ["reason": "unknown or disabled tenant", "issuer": verified.provider.issuer]))
      throw OAuthError(.invalidGrant, "the mapped tenant does not exist or is disabled")
    }
    let userID = try await self.provision(verified)
    let now = self.clock.now()
    let subject = userID.uuidString.lowercased()
    var response = try await self.startSession(
      SessionStore.NewSession(
        tenant: identity.tenant, subject: subject, userID: userID, serviceAccountID: nil, authMethod: "token_exchange",
        oidcIssuer: verified.provider.issuer, clientAddress: address, userAgent: call.userAgent, createdAt: now,
        expiresAt: now + self.configuration.sessionLifetime, withRefreshToken: true),
      roles: identity.roles, kind: .user, call: call
    )
    response.token.issuedTokenType = Self.accessTokenType
    await self.audit.record(AuditEntry(
      kind: .tokenExchanged, tenant: identity.tenant, actorSubject: subject, actorTenant: identity.tenant, actorKind: "user",
      sessionID: response.sid, clientAddress: address, userAgent: call.userAgent, requestID: call.requestID, targetType: "user", targetID: subject,
      details: ["issuer": verified.provider.issuer, "provider": verified.provider.name, "roles": identity.roles.map(\.rawValue).sorted().joined(separator: " ")]))
    return response.token
  }

  /// The local user of an external identity, created on first sight; its bindings are set to
  /// the mapped roles.
  private func provision(_ verified: OIDCTokenVerifier.Verified) async throws -> UUID {
    let identity = verified.identity
    let issuer = verified.provider.issuer
    return try await self.database.withTransaction { connection in
      let rows = try await connection.query(
        "SELECT user_id FROM oidc_identities WHERE tenant = \(identity.tenant) AND issuer = \(issuer) AND external_subject = \(verified.subject)",
        logger: self.logger)
      var userID: UUID?
      for try await id in rows.decode(UUID.self) { userID = id }
      if userID == nil {
        // A local account with the same name is never taken over: the federated user gets a
        // provider-qualified name instead.
        let taken = try await self.identities.user(tenant: identity.tenant, username: identity.username) != nil
        let username = taken ? String("\(verified.provider.name.lowercased()):\(verified.subject.lowercased())".prefix(128)) : identity.username
        let user = try await self.identities.createUser(
          tenant: identity.tenant, username: username, email: verified.email, displayName: "", disabled: false, password: nil, on: connection)
        _ = try await connection.query(
          """
          INSERT INTO oidc_identities (tenant, issuer, external_subject, user_id, email)
          VALUES (\(identity.tenant), \(issuer), \(verified.subject), \(user.id), \(verified.email))
          """,
          logger: self.logger
        ).collect()
        userID = user.id
      }
      guard let userID else { throw MaestroError.internal() }
      if let user = try await self.identities.user(tenant: identity.tenant, id: userID, on: connection), user.disabled {
        throw OAuthError(.invalidGrant, "the account is disabled")
      }
      let roles = identity.roles.map(\.rawValue)
      _ = try await connection.query(
        "DELETE FROM role_bindings WHERE tenant = \(identity.tenant) AND user_id = \(userID) AND NOT (role = ANY(\(roles)))",
        logger: self.logger
      ).collect()
      try await self.identities.bind(Array(identity.roles), tenant: identity.tenant, userID: userID, by: "oidc:\(verified.provider.name)", on: connection)
      let mapped = String(decoding: try JSONEncoder().encode(["roles": roles.sorted(), "tenant": [identity.tenant]]), as: UTF8.self)
      _ = try await connection.query(
        """
        UPDATE oidc_identities SET last_login_at = now(), last_claims = \(mapped)::jsonb, email = \(verified.email)
        WHERE tenant = \(identity.tenant) AND issuer = \(issuer) AND external_subject = \(verified.subject)
        """,
        logger: self.logger
      ).collect()
      return userID
    }
  }
}
