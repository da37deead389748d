/// Where a service gets the keys that sign access tokens.
public enum JWKSSource: Sendable, Equatable, CustomStringConvertible {
  /// The gateway's `/.well-known/jwks.json` (or any JWKS URL).
  case url(String)
  /// A JWKS document on disk (air-gapped deployments, tests).
  case file(String)

  public var description: String {
    switch self {
    case .url(let url): url
    case .file(let path): "file:\(path)"
    }
  }
}

/// How a service verifies callers' access tokens.
public struct TokenVerificationConfiguration: Sendable {
  public var jwks: JWKSSource
  /// Required `iss`.
  public var issuer: String
  /// Required member of `aud`.
  public var audience: String
  /// Accepted signature algorithms; anything else (including `none`) is rejected.
  public var allowedAlgorithms: Set<String> = ["ES256", "EdDSA"]
  /// Clock skew tolerated on `exp`, `nbf` and `iat`.
  public var leeway: Duration = .seconds(60)
  /// Cached keys are re-fetched at least this often, so a key withdrawn from the JWKS (an
  /// emergency rotation) stops verifying everywhere within this bound.
  public var maximumKeyAge: Duration = .seconds(300)
  /// An unknown `kid` triggers a re-fetch at most this often (protects the JWKS endpoint from
  /// a flood of forged tokens).
  public var minimumRefreshInterval: Duration = .seconds(5)

  public init(jwks: JWKSSource, issuer: String, audience: String) {
    self.jwks = jwks
    self.issuer = issuer
    self.audience = audience
  }
}
