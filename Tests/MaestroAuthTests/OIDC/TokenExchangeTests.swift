import Foundation
import JWTKit
import MaestroAuth
import MaestroCore
import MaestroProtos
import Testing

@Suite("OIDC token exchange against a local test issuer (real Postgres, real HTTP)")
struct TokenExchangeTests {
  static func exchange(_ gateway: GatewayFixture, _ token: String) async throws -> Maestro_Auth_V1_TokenResponse {
    try await gateway.api.token(.with {
      $0.grantType = "urn:ietf:params:oauth:grant-type:token-exchange"
      $0.subjectToken = token
      $0.subjectTokenType = "urn:ietf:params:oauth:token-type:id_token"
    }, call: CallContext(clientAddress: "127.0.0.1"))
  }

  @Test("a valid ID token is exchanged; the user is provisioned once with the mapped roles")
  func valid() async throws {
    try await TestIdentityProvider.with { idp in
      try await GatewayFixture.with({ $0.oidcProviders = [idp.configuration()] }) { gateway in
        let response = try await Self.exchange(gateway, try await idp.idToken())
        #expect(response.issuedTokenType == "urn:ietf:params:oauth:token-type:access_token")
        #expect(!response.refreshToken.isEmpty)
        let principal = try await gateway.verify(response.accessToken)
        #expect(principal.roles == [.workflowAuthor])
        #expect(principal.tenant == "default")
        let again = try await gateway.verify(try await Self.exchange(gateway, try await idp.idToken(groups: [])).accessToken)
        #expect(again.subject == principal.subject)
        #expect(again.roles == [.viewer])
        let user = try await gateway.api.getUser(.with { $0.userID = principal.subject }, call: try await gateway.call(try await gateway.password().accessToken)).user
        #expect(user.username == "ext-123@example.com")
        #expect(user.identityProvider == idp.issuer)
        #expect(user.externalSubject == "ext-123")
        #expect(try await gateway.scalar("SELECT count(*)::int FROM audit_events WHERE type = 'token.exchanged'", as: Int.self) == 2)
      }
    }
  }

  @Test("wrong issuer, wrong audience, expired, unknown kid and bad signature are rejected")
  func rejected() async throws {
    try await TestIdentityProvider.with { idp in
      try await GatewayFixture.with({ $0.oidcProviders = [idp.configuration()] }) { gateway in
        let impostor = JWTKeyCollection()
        await impostor.add(ecdsa: ES256PrivateKey(), kid: JWKIdentifier(string: idp.kid))
        let otherKid = JWTKeyCollection()
        await otherKid.add(ecdsa: ES256PrivateKey(), kid: JWKIdentifier(string: "rogue"))
        let cases: [(String, String)] = [
          (try await idp.idToken(issuer: "https://evil.example"), "issuer"),
          (try await idp.idToken(audience: "someone-else"), "audience"),
          (try await idp.idToken(expiresIn: -3600), "expired"),
          (try await idp.idToken(kid: "rogue", signer: otherKid), "unknown key"),
          (try await idp.idToken(signer: impostor), "signature"),
        ]
        for (token, reason) in cases {
          let error = await #expect(throws: OAuthError.self) { try await Self.exchange(gateway, token) }
          #expect(error?.code == .invalidGrant, "\(reason)")
          #expect(error?.description.contains(reason) == true, "\(error?.description ?? "") should mention \(reason)")
        }
        #expect(try await gateway.scalar("SELECT count(*)::int FROM audit_events WHERE type = 'token.exchange_failed'", as: Int.self) == 5)
        let valid = try await idp.idToken()
        let badType = await #expect(throws: OAuthError.self) {
          try await gateway.api.token(.with {
            $0.grantType = "urn:ietf:params:oauth:grant-type:token-exchange"
            $0.subjectToken = valid
            $0.subjectTokenType = "urn:ietf:params:oauth:token-type:saml2"
          }, call: CallContext())
        }
        #expect(badType?.code == .invalidRequest)
      }
    }
  }
}
