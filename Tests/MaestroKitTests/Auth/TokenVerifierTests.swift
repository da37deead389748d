import Foundation
import JWTKit
import Logging
import MaestroTestSupport
import MaestroCore
import MaestroKit
import Testing

@Suite("TokenVerifier")
struct TokenVerifierTests {
  let issuer: TestTokenIssuer
  let fetcher: InMemoryJWKSFetcher
  let verifier: TokenVerifier

  init() async throws {
    self.issuer = try await TestTokenIssuer.make()
    self.fetcher = InMemoryJWKSFetcher(jwks: self.issuer.publicJWKS)
    self.verifier = TokenVerifier(configuration: .test(), fetcher: self.fetcher, logger: Logger(label: "test"))
  }

  func expectRejected(_ token: String, _ reason: String, sourceLocation: SourceLocation = #_sourceLocation) async {
    let error = await #expect(throws: MaestroError.self, sourceLocation: sourceLocation) {
      try await self.verifier.verify(token)
    }
    #expect(error?.code == .unauthenticated, sourceLocation: sourceLocation)
    #expect(error?.message.contains(reason) == true, "\(error?.message ?? "")", sourceLocation: sourceLocation)
  }

  @Test("a valid token yields its principal")
  func valid() async throws {
    let token = try await self.issuer.sign(TestTokenIssuer.claims(subject: "alice", tenant: "acme", roles: ["workflow-author", "viewer", "no-such-role"]))
    let principal = try await self.verifier.verify(token)
    #expect(principal.subject == "alice")
    #expect(principal.tenant == "acme")
    #expect(principal.roles == [.workflowAuthor, .viewer])
    #expect(principal.sessionID == "s-1")
    #expect(principal.kind == .user)
  }

  @Test("an expired token is rejected; within the 60 s leeway it is accepted")
  func expiry() async throws {
    await self.expectRejected(try await self.issuer.sign(TestTokenIssuer.claims(expiresIn: -61, issuedAgo: 1000)), "expired")
    _ = try await self.verifier.verify(try await self.issuer.sign(TestTokenIssuer.claims(expiresIn: -30, issuedAgo: 1000)))
  }

  @Test("a token signed by another key under the same kid fails its signature")
  func wrongKey() async throws {
    let impostor = try await TestTokenIssuer.make(kid: self.issuer.kid)
    await self.expectRejected(try await impostor.sign(), "signature")
  }

  @Test("an unknown kid re-fetches the JWKS once, then is rejected")
  func unknownKid() async throws {
    _ = try await self.verifier.verify(try await self.issuer.sign())
    #expect(self.fetcher.fetches == 1)
    let other = try await TestTokenIssuer.make(kid: "k2")
    await self.expectRejected(try await other.sign(), "unknown key")
    #expect(self.fetcher.fetches == 2)
  }

  @Test("a key added to the JWKS (rotation) is picked up on first use of its kid")
  func rotation() async throws {
    _ = try await self.verifier.verify(try await self.issuer.sign())
    let next = try await TestTokenIssuer.make(kid: "k2")
    self.fetcher.replace(with: next.publicJWKS)
    let principal = try await self.verifier.verify(try await next.sign(TestTokenIssuer.claims(subject: "bob")))
    #expect(principal.subject == "bob")
  }

  @Test("unknown kids do not hammer the JWKS endpoint within the refresh interval")
  func refreshRateLimit() async throws {
    let verifier = TokenVerifier(configuration: .test(refreshInterval: .seconds(60)), fetcher: self.fetcher, logger: Logger(label: "test"))
    _ = try await verifier.verify(try await self.issuer.sign())
    let other = try await TestTokenIssuer.make(kid: "k9")
    for _ in 0..<5 {
      await #expect(throws: MaestroError.self) { try await verifier.verify(try await other.sign()) }
    }
    #expect(self.fetcher.fetches == 1)
  }

  @Test("alg none is rejected before any key is consulted")
  func algNone() async throws {
    let header = base64URL(#"{"alg":"none","typ":"at+jwt","kid":"k1"}"#)
    let claims = try JSONEncoder().encode(TestTokenIssuer.claims(roles: ["admin"]))
    let body = claims.base64EncodedString().replacingOccurrences(of: "=", with: "")
      .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
    await self.expectRejected("\(header).\(body).", "algorithm 'none'")
    #expect(self.fetcher.fetches == 0)
  }

  @Test("an HMAC token (algorithm confusion) is rejected")
  func algorithmConfusion() async throws {
    let hmac = JWTKeyCollection()
    await hmac.add(hmac: HMACKey(from: self.issuer.publicJWKS), digestAlgorithm: .sha256, kid: "k1")
    var header = JWTHeader()
    header.typ = "at+jwt"
    let token = try await hmac.sign(TestTokenIssuer.claims(), kid: "k1", header: header)
    await self.expectRejected(token, "algorithm 'HS256'")
  }

  @Test("a token without kid is rejected")
  func missingKid() async throws {
    let parts = try await self.issuer.sign().split(separator: ".")
    let header = base64URL(#"{"alg":"ES256","typ":"at+jwt"}"#)
    await self.expectRejected("\(header).\(parts[1]).\(parts[2])", "kid")
  }

  @Test("wrong audience, wrong issuer and wrong type are rejected")
  func claims() async throws {
    await self.expectRejected(try await self.issuer.sign(TestTokenIssuer.claims(audience: ["someone-else"])), "audience")
    await self.expectRejected(try await self.issuer.sign(TestTokenIssuer.claims(issuer: "evil")), "issuer")
    await self.expectRejected(try await self.issuer.sign(type: "JWT"), "at+jwt")
  }

  @Test("garbage is rejected, not crashed on", arguments: ["", "a.b", "a.b.c", "....", String(repeating: "x", count: 20_000)])
  func garbage(token: String) async {
    await #expect(throws: MaestroError.self) { try await self.verifier.verify(token) }
  }

  @Test("the JWKS can come from a file")
  func fileSource() async throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("jwks-\(UUID().uuidString).json").path
    try self.issuer.publicJWKS.write(toFile: path, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: path) }
    let verifier = TokenVerifier(configuration: .test(), fetcher: JWKSSource.file(path).makeFetcher(), logger: Logger(label: "test"))
    #expect(try await verifier.verify(try await self.issuer.sign()).subject == "user-1")
  }
}
