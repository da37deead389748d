import Foundation
import JWTKit
import Logging
import MaestroAuthModel
import MaestroCore
public import MaestroKit
import Synchronization

/// This replica's view of the signing keys: the key that signs, the published JWKS, and the
/// kids withdrawn by emergency rotation (refused by this gateway at once).
///
/// Reloaded from the database at start, on every key NOTIFY, and every key-check interval. It
/// is also the gateway's own ``JWKSFetcher``, so the gateway verifies tokens against exactly
/// what it publishes, without a network hop.
public final class KeyRing: JWKSFetcher, Sendable {
  struct Snapshot: Sendable {
    var records: [SigningKeyRecord] = []
    var signer: JWTKeyCollection?
    var activeKid: String?
    var jwksJSON = #"{"keys":[]}"#
    var revokedKids: Set<String> = []
    var loadedAt: Date = .distantPast
    /// Reloads may overlap (NOTIFY, maintenance, an API call): each takes a ticket before it
    /// reads, and only a read newer than the one applied may replace it.
    var issuedTickets = 0
    var appliedTicket = 0
  }

  private let state = Mutex(Snapshot())

  /// An empty ring; ``GatewayRuntime/prepare()`` loads it before the gateway serves.
  public init() {}

  /// Re-reads the keys and rebuilds the signer and JWKS.
  func reload(from store: SigningKeyStore, now: Date) async throws {
    let ticket = self.state.withLock { state in
      state.issuedTickets += 1
      return state.issuedTickets
    }
    let records = try await store.loadAll()
    let published = records.filter { $0.isPublished(at: now) }
    let jwks = "{\"keys\":[" + published.map(\.publicJWK).joined(separator: ",") + "]}"
    var signer: JWTKeyCollection?
    var activeKid: String?
    if let active = records.first(where: { $0.state == .active }) {
      let collection = JWTKeyCollection()
      await collection.add(ecdsa: try store.privateKey(of: active), kid: JWKIdentifier(string: active.kid))
      signer = collection
      activeKid = active.kid
    }
    let revoked = Set(records.filter { $0.state == .revoked }.map(\.kid))
    self.state.withLock { state in
      // Withdrawn kids stay refused even after their rows are purged, whatever the order.
      state.revokedKids.formUnion(revoked)
      guard ticket > state.appliedTicket else { return }
      state.appliedTicket = ticket
      state.records = records
      state.signer = signer
      state.activeKid = activeKid
      state.jwksJSON = jwks
      state.loadedAt = now
    }
  }

  /// The JWKS document (`/.well-known/jwks.json`).
  public func fetchJWKS() async throws -> String {
    self.state.withLock { $0.jwksJSON }
  }

  var records: [SigningKeyRecord] { self.state.withLock { $0.records } }

  /// Whether tokens signed by `kid` must be refused (withdrawn by emergency rotation).
  public func isRevoked(kid: String) -> Bool { self.state.withLock { $0.revokedKids.contains(kid) } }

  /// Signs `claims` as an `at+jwt` with the active key.
  public func sign(_ claims: AccessTokenClaims) async throws -> String {
    let (signer, kid) = self.state.withLock { ($0.signer, $0.activeKid) }
    guard let signer, let kid else { throw MaestroError.unavailable("no active signing key") }
    var header = JWTHeader()
    header.typ = "at+jwt"
    return try await signer.sign(claims, kid: JWKIdentifier(string: kid), header: header)
  }
}
