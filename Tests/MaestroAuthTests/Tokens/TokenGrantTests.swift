import Foundation
import Logging
import MaestroAuth
import MaestroCore
import MaestroKit
import MaestroProtos
import MaestroTestSupport
import Testing

@Suite("Token grants (real Postgres)")
struct TokenGrantTests {
  @Test("password grant: a bootstrap admin token that MaestroKit's TokenVerifier accepts")
  func password() async throws {
    try await GatewayFixture.with { gateway in
      let response = try await gateway.password()
      #expect(response.tokenType == "Bearer")
      #expect(response.expiresIn == 900)
      #expect(response.refreshToken.hasPrefix("rt."))
      // A backend verifies it with the shared verifier against the published JWKS.
      let backend = TokenVerifier(
        configuration: .test(), fetcher: InMemoryJWKSFetcher(jwks: try await gateway.runtime.keyRing.fetchJWKS()),
        logger: Logger(label: "test.backend"))
      let principal = try await backend.verify(response.accessToken)
      #expect(principal.tenant == "default")
      #expect(principal.roles == [.admin])
      #expect(principal.kind == .user)
      #expect(principal.sessionID != nil)
      let header = try #require(Base64URLTestDecoder.json(response.accessToken, part: 0))
      #expect(header["typ"] as? String == "at+jwt")
      #expect(header["alg"] as? String == "ES256")
      let claims = try #require(Base64URLTestDecoder.json(response.accessToken, part: 1))
      for claim in ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "sid", "tenant", "roles", "principal_type"] {
        #expect(claims[claim] != nil, "claim \(claim)")
      }
    }
  }

  @Test("password grant: a wrong password, an unknown user and a wrong tenant are invalid_grant")
  func passwordFailures() async throws {
    try await GatewayFixture.with { gateway in
      for (user, password, tenant) in [("admin", "wrong password!!", ""), ("nobody", "whatever at all", ""), ("admin", GatewayFixture.adminPassword, "other")] {
        let error = await #expect(throws: OAuthError.self) { try await gateway.password(user, password, tenant: tenant) }
        #expect(error?.code == .invalidGrant)
      }
      let missing = await #expect(throws: OAuthError.self) {
        try await gateway.api.token(.with { $0.grantType = "password" }, call: CallContext())
      }
      #expect(missing?.code == .invalidRequest)
      let unsupported = await #expect(throws: OAuthError.self) {
        try await gateway.api.token(.with { $0.grantType = "implicit" }, call: CallContext())
      }
      #expect(unsupported?.code == .unsupportedGrantType)
    }
  }

  @Test("client_credentials: each bootstrapped backend gets a platform-operator token with its secret file")
  func clientCredentials() async throws {
    try await GatewayFixture.with { gateway in
      for name in ["workflow-service", "scheduler", "metrics-service", "migration-service", "auth-gateway"] {
        let secret = try String(contentsOfFile: gateway.directory + "/secrets/\(name).secret", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let response = try await gateway.api.token(.with {
          $0.grantType = "client_credentials"
          $0.clientID = name
          $0.clientSecret = secret
        }, call: CallContext())
        #expect(response.refreshToken.isEmpty)
        let principal = try await gateway.verify(response.accessToken)
        #expect(principal.kind == .serviceAccount)
        #expect(principal.roles == [.platformOperator])
      }
      let wrong = await #expect(throws: OAuthError.self) {
        try await gateway.api.token(.with {
          $0.grantType = "client_credentials"
          $0.clientID = "scheduler"
          $0.clientSecret = "not-the-secret"
        }, call: CallContext())
      }
      #expect(wrong?.code == .invalidClient)
      #expect(wrong?.httpStatus == 401)
    }
  }

  @Test("bootstrap is idempotent: a second start keeps the admin and the backend accounts")
  func bootstrapIdempotent() async throws {
    try await GatewayFixture.with { gateway in
      try await gateway.runtime.prepare()
      #expect(try await gateway.scalar("SELECT count(*)::int FROM users WHERE username = 'admin'", as: Int.self) == 1)
      #expect(try await gateway.scalar("SELECT count(*)::int FROM service_accounts", as: Int.self) == 6)  // four backends, the gateway and the reference worker
      _ = try await gateway.password()
    }
  }

  @Test("refresh_token rotates; presenting a spent one revokes the whole session")
  func refreshRotationAndReuse() async throws {
    try await GatewayFixture.with { gateway in
      let first = try await gateway.password()
      let sid = try #require(try await gateway.verify(first.accessToken).sessionID)
      let second = try await gateway.api.token(.with {
        $0.grantType = "refresh_token"
        $0.refreshToken = first.refreshToken
      }, call: CallContext())
      #expect(second.refreshToken != first.refreshToken)
      #expect(try await gateway.verify(second.accessToken).sessionID == sid)

      let reuse = await #expect(throws: OAuthError.self) {
        try await gateway.api.token(.with {
          $0.grantType = "refresh_token"
          $0.refreshToken = first.refreshToken
        }, call: CallContext())
      }
      #expect(reuse?.code == .invalidGrant)
      // The successor is dead too: the whole session is revoked, and the gateway refuses its tokens.
      let successor = await #expect(throws: OAuthError.self) {
        try await gateway.api.token(.with {
          $0.grantType = "refresh_token"
          $0.refreshToken = second.refreshToken
        }, call: CallContext())
      }
      #expect(successor?.code == .invalidGrant)
      #expect(gateway.runtime.revocations.isRevoked(sid))
      #expect(try await gateway.scalar("SELECT revoked_reason FROM sessions WHERE sid = \(UUID(uuidString: sid)!)", as: String.self) == "refresh_token_reuse")
      #expect(try await gateway.scalar("SELECT count(*)::int FROM audit_events WHERE type = 'token.refresh_reused'", as: Int.self) == 1)
    }
  }
}

/// Decodes a part of a compact JWS as a JSON object.
enum Base64URLTestDecoder {
  static func json(_ token: String, part: Int) -> [String: Any]? {
    let parts = token.split(separator: ".")
    guard parts.count == 3, let bytes = Base64URL.decode(String(parts[part])), case let data = Data(bytes) else { return nil }
    return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
  }
}
