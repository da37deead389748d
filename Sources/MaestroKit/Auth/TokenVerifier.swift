public import Foundation
import JWTKit
public import Logging
public import MaestroCore
import Synchronization

/// Verifies bearer access tokens against a cached JWKS and turns them into a ``Principal``.
///
/// Checks, in order: three compact-JWS parts; a header with `typ: at+jwt`, an allowed `alg`
/// (never `none`) and a `kid`; a key for that `kid` whose own algorithm matches the header (no
/// algorithm confusion); the signature; `iss`, `aud`, `exp`/`nbf`/`iat` with leeway; a tenant.
///
/// Keys are cached. An unknown `kid` re-fetches the JWKS (at most once per
/// `minimumRefreshInterval`), and the cache is refreshed at least every `maximumKeyAge`, so a
/// key withdrawn by an emergency rotation stops verifying within that bound. Concurrent callers
/// share one fetch.
public final class TokenVerifier: Sendable {
  private let configuration: TokenVerificationConfiguration
  private let fetcher: any JWKSFetcher
  private let now: @Sendable () -> Date
  private let logger: Logger
  private let state = Mutex(KeyCacheState())

  public init(
    configuration: TokenVerificationConfiguration,
    fetcher: any JWKSFetcher,
    logger: Logger,
    now: @escaping @Sendable () -> Date = { Date() }
  ) {
    self.configuration = configuration
    self.fetcher = fetcher
    self.logger = logger
    self.now = now
  }

  /// The principal `token` proves; throws an `UNAUTHENTICATED` ``MaestroError`` otherwise.
  public func verify(_ token: String) async throws(MaestroError) -> Principal {
    let header = try TokenHeader(compact: token)
    guard header.type?.lowercased() == "at+jwt" else {
      throw .unauthenticated("token type must be at+jwt")
    }
    guard self.configuration.allowedAlgorithms.contains(header.algorithm) else {
      throw .unauthenticated("token algorithm '\(header.algorithm)' is not accepted")
    }
    guard let kid = header.keyID, !kid.isEmpty else {
      throw .unauthenticated("token has no key id (kid)")
    }

    let keys = try await self.keys(for: kid)
    guard let keyAlgorithm = keys.algorithms[kid] else {
      throw .unauthenticated("token is signed with an unknown key")
    }
    guard keyAlgorithm == header.algorithm else {
      throw .unauthenticated("token algorithm does not match its key")
    }

    let claims: AccessTokenClaims
    do {
      claims = try await keys.collection.verify(token, as: AccessTokenClaims.self)
    } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
      throw .unauthenticated("token signature is invalid")
    } catch {
      throw MaestroError(.unauthenticated, "token is malformed", cause: error)
    }
    return try self.principal(from: claims)
  }

  private func principal(from claims: AccessTokenClaims) throws(MaestroError) -> Principal {
    let now = self.now()
    let leeway = TimeInterval(self.configuration.leeway.components.seconds)
    guard claims.issuer.value == self.configuration.issuer else {
      throw .unauthenticated("token issuer is not trusted")
    }
    guard claims.audience.value.contains(self.configuration.audience) else {
      throw .unauthenticated("token audience does not include '\(self.configuration.audience)'")
    }
    guard claims.expiration.value.addingTimeInterval(leeway) > now else {
      throw .unauthenticated("token has expired")
    }
    if let notBefore = claims.notBefore, notBefore.value.addingTimeInterval(-leeway) > now {
      throw .unauthenticated("token is not valid yet")
    }
    guard claims.issuedAt.value.addingTimeInterval(-leeway) <= now else {
      throw .unauthenticated("token was issued in the future")
    }
    guard !claims.subject.value.isEmpty, !claims.tenant.isEmpty else {
      throw .unauthenticated("token has no subject or tenant")
    }
    // Unknown role names grant nothing (fail closed) rather than rejecting the token, so a
    // newer gateway can add roles without breaking older backends.
    let roles = Set(claims.roles.compactMap(Role.init(rawValue:)))
    return Principal(
      subject: claims.subject.value,
      tenant: claims.tenant,
      roles: roles,
      kind: claims.principalType == Principal.Kind.serviceAccount.rawValue ? .serviceAccount : .user,
      sessionID: claims.sessionID,
      tokenID: claims.tokenID.value
    )
  }

  /// Keys that are fresh and, if possible, know `kid`: fetches when the cache is empty, older
  /// than `maximumKeyAge`, or lacks `kid` and the last fetch is older than
  /// `minimumRefreshInterval`.
  private func keys(for kid: String) async throws(MaestroError) -> KeySet {
    let clock = ContinuousClock()
    while true {
      let action = self.state.withLock { state in
        state.nextAction(kid: kid, now: clock.now, configuration: self.configuration)
      }
      switch action {
      case .use(let keys):
        return keys
      case .unavailable:
        throw MaestroError(.unavailable, "signing keys are unavailable")
      case .wait:
        await withCheckedContinuation { continuation in
          let resumeNow = self.state.withLock { state in
            guard state.fetching else { return true }
            state.waiters.append(continuation)
            return false
          }
          if resumeNow { continuation.resume() }
        }
      case .fetch(let stale):
        let result: Result<KeySet, any Error>
        do {
          result = .success(try await KeySet(jwksJSON: self.fetcher.fetchJWKS()))
        } catch {
          result = .failure(error)
        }
        let waiters = self.state.withLock { state in
          state.finishFetch(result, at: clock.now)
        }
        for waiter in waiters { waiter.resume() }
        switch result {
        case .success(let keys):
          return keys
        case .failure(let error):
          self.logger.warning("JWKS fetch failed", metadata: ["jwks": "\(self.configuration.jwks)", "error": "\(error)"])
          // A stale key set still verifies until the next successful refresh: a JWKS outage
          // must not take every service down with it.
          if let stale { return stale }
          throw MaestroError(.unavailable, "signing keys are unavailable", cause: error)
        }
      }
    }
  }
}

/// The verification keys of one JWKS fetch.
struct KeySet: Sendable {
  let collection: JWTKeyCollection
  /// Algorithm of each key, by `kid`: from the JWK's `alg`, else from its key type and curve.
  let algorithms: [String: String]

  init(jwksJSON: String) async throws {
    let jwks = try JSONDecoder().decode(JWKS.self, from: Data(jwksJSON.utf8))
    let collection = JWTKeyCollection()
    var algorithms: [String: String] = [:]
    for jwk in jwks.keys {
      guard let kid = jwk.keyIdentifier?.string else { continue }
      let algorithm: String? =
        switch (jwk.algorithm, jwk.keyType, jwk.curve?.rawValue) {
        case (.some(let declared), _, _): declared.rawValue
        case (nil, .ecdsa, "P-256"): "ES256"
        case (nil, .octetKeyPair, "Ed25519"): "EdDSA"
        default: nil
        }
      guard let algorithm else { continue }
      try await collection.add(jwk: jwk)
      algorithms[kid] = algorithm
    }
    self.collection = collection
    self.algorithms = algorithms
  }
}

/// The token verifier's cache: a pure state machine, so its decisions are testable without I/O.
struct KeyCacheState {
  enum Action {
    case use(KeySet)
    case wait
    /// No keys, and the last fetch failed too recently to try again.
    case unavailable
    /// Fetch; `stale` is what to fall back to if the fetch fails.
    case fetch(stale: KeySet?)
  }

  var keys: KeySet?
  var fetchedAt: ContinuousClock.Instant?
  var lastAttempt: ContinuousClock.Instant?
  var fetching = false
  var waiters: [CheckedContinuation<Void, Never>] = []

  mutating func nextAction(
    kid: String,
    now: ContinuousClock.Instant,
    configuration: TokenVerificationConfiguration
  ) -> Action {
    if self.fetching { return .wait }
    let mayRefetch = self.lastAttempt.map { now - $0 >= configuration.minimumRefreshInterval } ?? true
    if let keys = self.keys, let fetchedAt = self.fetchedAt {
      let fresh = now - fetchedAt < configuration.maximumKeyAge
      let knowsKid = keys.algorithms[kid] != nil
      if (fresh && knowsKid) || !mayRefetch { return .use(keys) }
    } else if !mayRefetch {
      return .unavailable
    }
    self.fetching = true
    self.lastAttempt = now
    return .fetch(stale: self.keys)
  }

  mutating func finishFetch(
    _ result: Result<KeySet, any Error>,
    at now: ContinuousClock.Instant
  ) -> [CheckedContinuation<Void, Never>] {
    self.fetching = false
    if case .success(let keys) = result {
      self.keys = keys
      self.fetchedAt = now
    }
    defer { self.waiters = [] }
    return self.waiters
  }
}
