import Foundation
import JWTKit
import Logging
import MaestroAuthModel
import MaestroCore
import Synchronization

/// Verifies external OIDC ID tokens for token exchange: the issuer picks the provider; its
/// keys come from discovery + JWKS (cached; an unknown kid re-fetches at most every 10 s); then
/// algorithm allowlist, kid, signature, issuer, audience and time claims are checked, and the
/// claims are mapped to a Maestro identity.
final class OIDCTokenVerifier: Sendable {
  struct Verified: Sendable {
    var provider: OIDCProviderConfiguration
    var subject: String
    var email: String?
    var identity: ClaimMapping.Identity
    var claims: [String: ClaimValue]
  }

  private struct CachedKeys: Sendable {
    var collection: JWTKeyCollection
    var kids: Set<String>
    var fetchedAt: Date
  }

  private let providers: [String: OIDCProviderConfiguration]
  private let fetcher: any OIDCDocumentFetcher
  private let clock: any AuthClock
  private let cache = Mutex<[String: CachedKeys]>([:])
  private let logger: Logger

  init(providers: [OIDCProviderConfiguration], fetcher: any OIDCDocumentFetcher, clock: any AuthClock, logger: Logger) {
    self.providers = Dictionary(providers.map { ($0.issuer, $0) }, uniquingKeysWith: { first, _ in first })
    self.fetcher = fetcher
    self.clock = clock
    self.logger = logger
  }

  var isEnabled: Bool { !self.providers.isEmpty }

  private struct Header: Decodable {
    var alg: String
    var kid: String?
  }

  private struct IDTokenClaims: JWTPayload {
    var iss: IssuerClaim
    var sub: SubjectClaim
    var aud: AudienceClaim
    var exp: ExpirationClaim
    var iat: IssuedAtClaim?
    var nbf: NotBeforeClaim?
    func verify(using algorithm: some JWTAlgorithm) async throws {}
  }

  /// The verified, mapped identity of `token`; throws an `invalid_grant`-style UNAUTHENTICATED.
  func verify(_ token: String) async throws(MaestroError) -> Verified {
    let parts = token.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 3, token.utf8.count <= 16 * 1024,
      let headerBytes = Base64URL.decode(String(parts[0])), let header = try? JSONDecoder().decode(Header.self, from: Data(headerBytes)),
      let payloadBytes = Base64URL.decode(String(parts[1])),
      let claims = try? JSONDecoder().decode([String: ClaimValue].self, from: Data(payloadBytes))
    else { throw Self.reject("subject_token is not a JWT") }
    guard let issuer = claims["iss"]?.stringValue, let provider = self.providers[issuer] else {
      throw Self.reject("subject_token issuer is not a trusted provider")
    }
    guard provider.allowedAlgorithms.contains(header.alg) else {
      throw Self.reject("subject_token algorithm '\(header.alg)' is not accepted")
    }
    guard let kid = header.kid, !kid.isEmpty else { throw Self.reject("subject_token has no key id (kid)") }

    let collection = try await self.keys(for: provider, kid: kid)
    let verified: IDTokenClaims
    do {
      verified = try await collection.verify(token, as: IDTokenClaims.self)
    } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
      throw Self.reject("subject_token signature is invalid")
    } catch {
      throw MaestroError(.unauthenticated, "invalid_grant: subject_token could not be verified", cause: error)
    }
    let now = self.clock.now()
    let leeway = TimeInterval(provider.leewaySeconds)
    guard verified.iss.value == provider.issuer else { throw Self.reject("subject_token issuer mismatch") }
    guard verified.aud.value.contains(provider.audience) else { throw Self.reject("subject_token audience is not accepted") }
    guard verified.exp.value.addingTimeInterval(leeway) > now else { throw Self.reject("subject_token has expired") }
    if let nbf = verified.nbf, nbf.value.addingTimeInterval(-leeway) > now { throw Self.reject("subject_token is not valid yet") }
    if let iat = verified.iat, iat.value.addingTimeInterval(-leeway) > now { throw Self.reject("subject_token was issued in the future") }
    switch provider.claimMapping.map(claims: claims) {
    case .success(let identity):
      return Verified(provider: provider, subject: verified.sub.value, email: claims["email"]?.stringValue, identity: identity, claims: claims)
    case .failure(let failure):
      throw Self.reject(failure.message)
    }
  }

  private static func reject(_ message: String) -> MaestroError {
    MaestroError(.unauthenticated, "invalid_grant: \(message)")
  }

  /// Cached keys of `provider` that know `kid`, fetching when needed.
  private func keys(for provider: OIDCProviderConfiguration, kid: String) async throws(MaestroError) -> JWTKeyCollection {
    let now = self.clock.now()
    let cached = self.cache.withLock { $0[provider.issuer] }
    if let cached, cached.kids.contains(kid), now.timeIntervalSince(cached.fetchedAt) < 3600 { return cached.collection }
    if let cached, now.timeIntervalSince(cached.fetchedAt) < 10 {
      guard cached.kids.contains(kid) else { throw Self.reject("subject_token is signed with an unknown key") }
      return cached.collection
    }
    do {
      let jwksURL: String
      if let configured = provider.jwksURI {
        jwksURL = configured
      } else {
        let discovery = try JSONSerialization.jsonObject(with: try await self.fetcher.fetch(provider.resolvedDiscoveryURL)) as? [String: Any]
        guard let uri = discovery?["jwks_uri"] as? String else { throw MaestroError.unavailable("discovery document has no jwks_uri") }
        jwksURL = uri
      }
      let jwks = try JSONDecoder().decode(JWKS.self, from: try await self.fetcher.fetch(jwksURL))
      let collection = JWTKeyCollection()
      var kids: Set<String> = []
      for jwk in jwks.keys {
        guard let id = jwk.keyIdentifier?.string else { continue }
        do {
          try await collection.add(jwk: jwk)
          kids.insert(id)
        } catch {
          self.logger.debug("skipping unusable provider key", metadata: ["kid": "\(id)", "error": "\(error)"])
        }
      }
      self.cache.withLock { $0[provider.issuer] = CachedKeys(collection: collection, kids: kids, fetchedAt: now) }
      guard kids.contains(kid) else { throw Self.reject("subject_token is signed with an unknown key") }
      return collection
    } catch let error as MaestroError {
      throw error
    } catch {
      self.logger.warning("OIDC key fetch failed", metadata: ["issuer": "\(provider.issuer)", "error": "\(error)"])
      throw MaestroError.unavailable("the identity provider's keys are unavailable", cause: error)
    }
  }
}
