import Foundation
public import MaestroAuthModel

/// One trusted external OpenID Connect provider for token exchange (RFC 8693).
///
/// The file named by `MAESTRO_OIDC_PROVIDERS_FILE` is JSON (which is also valid YAML):
/// `{"providers": [{"name": "okta", "issuer": "https://…", "audience": "…", "claim_mapping": {…}}]}`.
/// See the service README for Auth0, Okta and Azure AD examples.
public struct OIDCProviderConfiguration: Sendable, Hashable, Codable {
  /// A short name, shown as the user's `identity_provider`.
  public var name: String
  /// The exact `iss` of the provider's ID tokens.
  public var issuer: String
  /// The `aud` the ID token must carry (the client id registered at the provider).
  public var audience: String
  /// Discovery document URL; default `<issuer>/.well-known/openid-configuration`.
  public var discoveryURL: String?
  /// JWKS URL; default from the discovery document.
  public var jwksURI: String?
  /// Accepted signature algorithms (default RS256 and ES256); never `none` or HMAC.
  public var allowedAlgorithms: [String]
  /// Clock skew tolerated on exp/iat/nbf, seconds (default 60).
  public var leewaySeconds: Int
  public var claimMapping: ClaimMapping

  enum CodingKeys: String, CodingKey {
    case name, issuer, audience
    case discoveryURL = "discovery_url"
    case jwksURI = "jwks_uri"
    case allowedAlgorithms = "allowed_algorithms"
    case leewaySeconds = "leeway_seconds"
    case claimMapping = "claim_mapping"
  }

  public init(name: String, issuer: String, audience: String, discoveryURL: String? = nil, jwksURI: String? = nil, allowedAlgorithms: [String] = ["RS256", "ES256"], leewaySeconds: Int = 60, claimMapping: ClaimMapping) {
    self.name = name
    self.issuer = issuer
    self.audience = audience
    self.discoveryURL = discoveryURL
    self.jwksURI = jwksURI
    self.allowedAlgorithms = allowedAlgorithms
    self.leewaySeconds = leewaySeconds
    self.claimMapping = claimMapping
  }

  public init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    self.name = try container.decode(String.self, forKey: .name)
    self.issuer = try container.decode(String.self, forKey: .issuer)
    self.audience = try container.decode(String.self, forKey: .audience)
    self.discoveryURL = try container.decodeIfPresent(String.self, forKey: .discoveryURL)
    self.jwksURI = try container.decodeIfPresent(String.self, forKey: .jwksURI)
    self.allowedAlgorithms = try container.decodeIfPresent([String].self, forKey: .allowedAlgorithms) ?? ["RS256", "ES256"]
    self.leewaySeconds = try container.decodeIfPresent(Int.self, forKey: .leewaySeconds) ?? 60
    self.claimMapping = try container.decodeIfPresent(ClaimMapping.self, forKey: .claimMapping) ?? ClaimMapping()
    let forbidden = self.allowedAlgorithms.filter { $0.lowercased() == "none" || $0.hasPrefix("HS") }
    guard forbidden.isEmpty else {
      throw DecodingError.dataCorruptedError(forKey: .allowedAlgorithms, in: container, debugDescription: "\(forbidden) are not allowed for ID tokens")
    }
  }

  /// The discovery document's URL.
  public var resolvedDiscoveryURL: String {
    self.discoveryURL ?? (self.issuer.hasSuffix("/") ? String(self.issuer.dropLast()) : self.issuer) + "/.well-known/openid-configuration"
  }

  struct File: Decodable {
    var providers: [OIDCProviderConfiguration]
  }

  /// Reads a providers file.
  public static func load(path: String) throws -> [OIDCProviderConfiguration] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    return try JSONDecoder().decode(File.self, from: data).providers
  }
}
