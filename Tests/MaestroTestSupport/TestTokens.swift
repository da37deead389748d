public import Foundation
public import JWTKit
public import MaestroKit
import MaestroCore
import Synchronization

/// Signs access tokens with locally generated keys and serves their JWKS in memory.
public struct TestTokenIssuer: Sendable {
  public let collection: JWTKeyCollection
  public let publicJWKS: String
  public let kid: String

  /// A fresh ES256 key pair with `kid`.
  public static func make(kid: String = "k1") async throws -> TestTokenIssuer {
    let key = ES256PrivateKey()
    let collection = JWTKeyCollection()
    await collection.add(ecdsa: key, kid: JWKIdentifier(string: kid))
    guard let parameters = key.publicKey.parameters else { throw TestSetupError("EC key without parameters") }
    let jwks = #"{"keys":[{"kty":"EC","crv":"P-256","alg":"ES256","use":"sig","kid":"\#(kid)","x":"\#(parameters.x)","y":"\#(parameters.y)"}]}"#
    return TestTokenIssuer(collection: collection, publicJWKS: jwks, kid: kid)
  }

  private init(collection: JWTKeyCollection, publicJWKS: String, kid: String) {
    self.collection = collection
    self.publicJWKS = publicJWKS
    self.kid = kid
  }

  public static func claims(
    subject: String = "user-1",
    tenant: String = "acme",
    roles: [String] = ["viewer"],
    audience: [String] = ["maestro"],
    issuer: String = "maestro",
    expiresIn: TimeInterval = 900,
    issuedAgo: TimeInterval = 0
  ) -> AccessTokenClaims {
    let now = Date()
    return AccessTokenClaims(
      issuer: issuer,
      subject: subject,
      audience: audience,
      expiration: now.addingTimeInterval(expiresIn),
      issuedAt: now.addingTimeInterval(-issuedAgo),
      notBefore: now.addingTimeInterval(-issuedAgo),
      tokenID: UUID().uuidString,
      sessionID: "s-1",
      tenant: tenant,
      roles: roles
    )
  }

  public func sign(_ claims: AccessTokenClaims = Self.claims(), type: String = "at+jwt", kid: String? = nil) async throws -> String {
    var header = JWTHeader()
    header.typ = type
    return try await self.collection.sign(claims, kid: JWKIdentifier(string: kid ?? self.kid), header: header)
  }
}

/// A JWKS fetcher whose document tests can swap, counting fetches.
public final class InMemoryJWKSFetcher: JWKSFetcher {
  private let state: Mutex<(jwks: String, fetches: Int)>

  public init(jwks: String) { self.state = Mutex((jwks, 0)) }

  public var fetches: Int { self.state.withLock { $0.fetches } }

  public func replace(with jwks: String) { self.state.withLock { $0.jwks = jwks } }

  public func fetchJWKS() async throws -> String {
    self.state.withLock { state in
      state.fetches += 1
      return state.jwks
    }
  }
}

extension TokenVerificationConfiguration {
  public static func test(refreshInterval: Duration = .zero) -> Self {
    var configuration = TokenVerificationConfiguration(jwks: .file("/unused"), issuer: "maestro", audience: "maestro")
    configuration.minimumRefreshInterval = refreshInterval
    return configuration
  }
}

/// Base64url without padding.
public func base64URL(_ text: String) -> String { Base64URL.encode(Array(text.utf8)) }

extension TestTokenIssuer {
  /// Runs `body` with the issuer's public JWKS written to a temporary file (the path is what
  /// services get as `MAESTRO_JWKS_FILE`); the file is removed afterwards.
  public func withJWKSFile<Result>(_ body: (String) async throws -> Result) async throws -> Result {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("jwks-\(UUID().uuidString).json").path
    try self.publicJWKS.write(toFile: path, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
  }
}
