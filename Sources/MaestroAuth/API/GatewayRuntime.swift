import MaestroCore
import Foundation
public import Logging
import MaestroAuthModel
public import MaestroKit
public import ServiceLifecycle

/// Everything one gateway replica shares between its gRPC service, REST router and background
/// work: stores, the key ring, the revocation list and the OIDC verifier.
public struct GatewayRuntime: Sendable {
  public let configuration: GatewayConfiguration
  public let database: Database
  public let keyRing: KeyRing
  public let revocations: RevocationList
  public let clock: any AuthClock
  public let logger: Logger
  let identities: IdentityStore
  let sessions: SessionStore
  let backoff: LoginBackoffStore
  let audit: AuditStore
  let keys: SigningKeyStore
  let oidc: OIDCTokenVerifier
  /// Verifies this gateway's own access tokens (REST, token revocation), against ``keyRing``.
  public let verifier: TokenVerifier

  public init(
    configuration: GatewayConfiguration,
    database: Database,
    logger: Logger,
    keyRing: KeyRing = KeyRing(),
    clock: any AuthClock = SystemAuthClock(),
    oidcFetcher: any OIDCDocumentFetcher = HTTPOIDCDocumentFetcher()
  ) {
    self.configuration = configuration
    self.database = database
    self.logger = logger
    self.clock = clock
    self.identities = IdentityStore(database: database, logger: logger)
    self.sessions = SessionStore(database: database, logger: logger)
    self.backoff = LoginBackoffStore(database: database, userPolicy: configuration.userBackoff, addressPolicy: configuration.addressBackoff, logger: logger)
    self.audit = AuditStore(database: database, logger: logger)
    self.keys = SigningKeyStore(database: database, masterKey: configuration.masterKey, logger: logger)
    self.keyRing = keyRing
    var verification = TokenVerificationConfiguration(jwks: .file("in-process"), issuer: configuration.issuer, audience: configuration.audience)
    // The JWKS is in this process: re-reading it is cheap, so new and withdrawn keys take
    // effect here within a second (withdrawn kids are also refused at once by the guard).
    verification.maximumKeyAge = .seconds(1)
    verification.minimumRefreshInterval = .zero
    self.verifier = TokenVerifier(configuration: verification, fetcher: keyRing, logger: logger, now: { clock.now() })
    self.revocations = RevocationList()
    self.oidc = OIDCTokenVerifier(providers: configuration.oidcProviders, fetcher: oidcFetcher, clock: clock, logger: logger)
  }

  /// The API over this runtime.
  public var api: AuthAPI { AuthAPI(runtime: self) }

  /// Startup work, before serving: bootstrap (idempotent), the first keys, the key ring and
  /// the deny list.
  public func prepare() async throws {
    try await Bootstrapper(runtime: self).run()
    try await self.rotateIfDue()
    try await self.reloadKeys()
    self.revocations.replace(with: try await self.sessions.revokedUnexpired())
  }

  /// The NOTIFY listener that applies other replicas' revocations and key changes here.
  public func invalidationListener() -> some Service { InvalidationListener(runtime: self) }

  /// The periodic key rotation and deny-list pruning.
  public func keyMaintenance() -> some Service { KeyMaintenance(runtime: self) }

  /// Deletes sessions that expired more than a day ago (maintenance); returns how many.
  @discardableResult
  public func purgeExpiredSessions() async throws -> Int {
    try await self.sessions.purgeExpired(now: self.clock.now(), retention: .seconds(86_400))
  }

  /// Re-reads the signing keys into the key ring.
  public func reloadKeys() async throws {
    try await self.keyRing.reload(from: self.keys, now: self.clock.now())
  }

  /// Applies the scheduled rotation steps that are due (one replica at a time); reloads keys
  /// and audits when something changed.
  @discardableResult
  public func rotateIfDue() async throws -> Bool {
    let schedule = self.configuration.keySchedule
    let now = self.clock.now()
    guard let result = try await self.keys.rotate(plan: { schedule.plan(keys: $0, now: now) }), !result.steps.isEmpty else {
      return false
    }
    for step in result.steps {
      switch step {
      case .activate(let kid, _, _):
        await self.audit.record(AuditEntry(kind: .keyRotated, tenant: "default", targetType: "signing_key", targetID: kid, details: ["mode": "scheduled"]))
      case .purge(let kid):
        await self.audit.record(AuditEntry(kind: .keyPurged, tenant: "default", targetType: "signing_key", targetID: kid))
      default:
        break
      }
    }
    try await self.reloadKeys()
    return true
  }
}
