import Foundation
import JWTKit
import MaestroAuth
import MaestroCore
import MaestroKit
import MaestroTestSupport
import Testing

@Suite("Issued tokens under attack (real Postgres)")
struct TokenVerificationTests {
  static func expectRejected(_ gateway: GatewayFixture, _ token: String, _ reason: String, sourceLocation: SourceLocation = #_sourceLocation) async {
    let error = await #expect(throws: MaestroError.self, sourceLocation: sourceLocation) { try await gateway.verify(token) }
    #expect(error?.code == .unauthenticated, sourceLocation: sourceLocation)
    #expect(error?.message.contains(reason) == true, "\(error?.message ?? "") should mention \(reason)", sourceLocation: sourceLocation)
  }

  static func replacing(_ token: String, part: Int, with json: String) -> String {
    var parts = token.split(separator: ".").map(String.init)
    parts[part] = base64URL(json)
    return parts.joined(separator: ".")
  }

  @Test("tampered payload, alg none, missing kid, wrong typ are rejected")
  func tampered() async throws {
    try await GatewayFixture.with { gateway in
      let token = try await gateway.password().accessToken
      let claims = try #require(Base64URLTestDecoder.json(token, part: 1))
      var elevated = claims
      elevated["tenant"] = "other"
      let payload = String(decoding: try JSONSerialization.data(withJSONObject: elevated), as: UTF8.self)
      await Self.expectRejected(gateway, Self.replacing(token, part: 1, with: payload), "signature is invalid")

      let header = try #require(Base64URLTestDecoder.json(token, part: 0))
      let kid = try #require(header["kid"] as? String)
      let none = base64URL(#"{"alg":"none","typ":"at+jwt","kid":"\#(kid)"}"#) + "." + token.split(separator: ".")[1] + "."
      await Self.expectRejected(gateway, none, "algorithm 'none' is not accepted")
      await Self.expectRejected(gateway, Self.replacing(token, part: 0, with: #"{"alg":"ES256","typ":"at+jwt"}"#), "no key id")
      await Self.expectRejected(gateway, Self.replacing(token, part: 0, with: #"{"alg":"HS256","typ":"at+jwt","kid":"\#(kid)"}"#), "not accepted")
      await Self.expectRejected(gateway, Self.replacing(token, part: 0, with: #"{"alg":"ES256","typ":"JWT","kid":"\#(kid)"}"#), "at+jwt")
    }
  }

  @Test("expired (past the 60 s leeway), wrong audience and unknown kid are rejected")
  func expiredAudienceKid() async throws {
    try await GatewayFixture.with { gateway in
      let token = try await gateway.password().accessToken
      gateway.clock.advance(by: .seconds(900 + 30))
      _ = try await gateway.verify(token)  // inside the leeway
      gateway.clock.advance(by: .seconds(40))
      await Self.expectRejected(gateway, token, "expired")

      // A token signed by a key the gateway never published.
      let stranger = try await TestTokenIssuer.make(kid: "k-unknown-key")
      await Self.expectRejected(gateway, try await stranger.sign(TestTokenIssuer.claims()), "unknown key")
      // Signed by the gateway's own key but for another audience: forge via a key we control
      // under the gateway's kid is impossible, so check audience on a backend verifier that
      // expects another audience.
      let fresh = try await gateway.password().accessToken
      var configuration = TokenVerificationConfiguration.test()
      configuration.audience = "billing"
      let backend = TokenVerifier(configuration: configuration, fetcher: gateway.runtime.keyRing, logger: .init(label: "t"), now: { gateway.clock.now() })
      let error = await #expect(throws: MaestroError.self) { try await backend.verify(fresh) }
      #expect(error?.message.contains("audience") == true)
    }
  }
}
