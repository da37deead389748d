public import Hummingbird
import HummingbirdTLS
import GRPCNIOTransportHTTP2
import Logging
public import MaestroCore
public import MaestroKit
import NIOCore
import ServiceLifecycle

/// auth-gateway's process: the public door. gRPC on 9090, REST (JSON over HTTP/1.1) on 8080,
/// admin on 9201; owns the `auth` schema.
public enum GatewayServer {
  /// Local defaults: gRPC 9090, admin 9201, role `maestro_auth`.
  public static let defaults = ServiceDefaults(serviceName: "auth-gateway", schema: "auth", grpcPort: 9090, adminPort: 9201)

  /// Local default of the REST port.
  public static let defaultRESTPort = 8080

  /// The `auth` schema version this build needs (its highest migration).
  public static let requiredSchemaVersion = 1

  /// The gateway's access policy: the shared matrix (health is made public by the host).
  public static let policy = AccessPolicy.maestro

  /// The front door's parts shared by the gRPC and REST listeners.
  public struct FrontDoor: Sendable {
    public let pool: BackendPool
    public let forwarder: Forwarder
    public let limiter: RateLimiter
    public let configuration: FrontDoorConfiguration

    public init(runtime: GatewayRuntime, health: HealthStatusStore, drainDelay: Duration, reporter: any GatewayOutcomeReporter = DiscardingOutcomeReporter()) throws {
      let configuration = runtime.configuration.frontDoor
      self.configuration = configuration
      self.pool = try BackendPool(addresses: configuration.backends, drainDelay: drainDelay, logger: runtime.logger, onDrainStart: { health.drain() })
      let audit = runtime.audit
      self.forwarder = Forwarder(catalog: .maestro, pool: self.pool, reporter: reporter) { principal, tenant, method in
        var entry = AuditEntry(kind: .crossTenantAccess, tenant: tenant)
        entry.actorSubject = principal.subject
        entry.actorTenant = principal.tenant
        entry.actorKind = principal.kind.rawValue
        entry.requestID = RequestContext.current?.requestID
        entry.details = ["method": method]
        await audit.record(entry)
      }
      self.limiter = RateLimiter(policy: configuration.rateLimits)
    }
  }

  /// What the gateway runs inside its host: the `AuthService`, the forwarding of every backend
  /// RPC, the session guard and limits, bootstrap and key loading before SERVING, the REST
  /// listener, NOTIFY invalidation and key rotation. `host` must have been created with
  /// `runtime.keyRing` as its JWKS fetcher.
  public static func components(
    host: MaestroServiceHost,
    runtime: GatewayRuntime,
    restPort: Int,
    reporter: any GatewayOutcomeReporter = DiscardingOutcomeReporter()
  ) throws -> ServiceComponents {
    let sessionGuard = SessionGuard(revocations: runtime.revocations, keyRing: runtime.keyRing)
    let frontDoor = try FrontDoor(runtime: runtime, health: host.health, drainDelay: host.configuration.drainDelay, reporter: reporter)
    var components = ServiceComponents(
      grpcServices: [AuthGRPCService(api: runtime.api), ForwardingService(forwarder: frontDoor.forwarder)],
      servedServiceNames: ["maestro.auth.v1.AuthService"],
      policy: self.policy,
      requiredSchemaVersion: self.requiredSchemaVersion,
      backgroundServices: [
        try self.makeRESTApplication(host: host.configuration.host, port: restPort, health: host.health, runtime: runtime, frontDoor: frontDoor, logger: host.logger),
        runtime.invalidationListener(),
        runtime.keyMaintenance(),
        // Last, so it is the first to hear graceful shutdown: NOT_SERVING, then the drain.
        frontDoor.pool,
      ],
      interceptors: [
        SessionGuardInterceptor(sessionGuard: sessionGuard),
        ProtectionInterceptor(limiter: frontDoor.limiter, limits: frontDoor.configuration.limits),
      ],
      preflight: { try await runtime.prepare() }
    )
    if let tls = frontDoor.configuration.tls {
      components.grpcTransportSecurity = .tls(
        .defaults(certificateChain: [.file(path: tls.certificateChain, format: .pem)], privateKey: .file(path: tls.privateKey, format: .pem))
      )
    }
    return components
  }

  /// The REST router: `/healthz` (mirrors the gRPC server's health, 503 while draining),
  /// `/openapi.json`, the identity API and, when `frontDoor` is given, every backend route.
  public static func makeRouter(health: HealthStatusStore, runtime: GatewayRuntime, frontDoor: FrontDoor? = nil) -> Router<GatewayRequestContext> {
    let router = Router(context: GatewayRequestContext.self)
    let limits = frontDoor?.configuration.limits ?? RequestLimits()
    router.add(middleware: RequestLimitsMiddleware<GatewayRequestContext>(limits: limits))
    let gateway = RESTGateway(runtime: runtime, policy: self.policy, limiter: frontDoor?.limiter)
    if let frontDoor {
      router.add(middleware: BackendRESTRouter(
        gateway: gateway,
        forwarder: frontDoor.forwarder,
        limiter: frontDoor.limiter,
        limits: limits,
        defaultTimeout: frontDoor.configuration.restTimeout,
        logger: runtime.logger
      ))
    }
    router.get("/healthz") { _, _ -> Response in
      let serving = health.status() == .serving
      return Response(
        status: serving ? .ok : .serviceUnavailable,
        headers: [.contentType: "application/json"],
        body: .init(byteBuffer: ByteBuffer(string: serving ? #"{"status":"SERVING"}"# : #"{"status":"NOT_SERVING"}"#))
      )
    }
    let openAPI = OpenAPIDocument.json(serverURL: runtime.configuration.publicURL)
    router.get("/openapi.json") { _, _ -> Response in
      Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: openAPI)))
    }
    gateway.addRoutes(to: router)
    return router
  }

  /// The REST listener: HTTP/1.1, or TLS (1.3 only) when a certificate is configured.
  static func makeRESTApplication(
    host: String,
    port: Int,
    health: HealthStatusStore,
    runtime: GatewayRuntime,
    frontDoor: FrontDoor,
    logger: Logger
  ) throws -> some Service {
    let router = self.makeRouter(health: health, runtime: runtime, frontDoor: frontDoor)
    let configuration = ApplicationConfiguration(address: .hostname(host, port: port), serverName: nil)
    let onRunning: @Sendable (any Channel) async -> Void = { channel in
      logger.info("REST listening", metadata: ["rest_port": "\(channel.localAddress?.port ?? port)", "tls": "\(frontDoor.configuration.tls != nil)"])
    }
    guard let tls = frontDoor.configuration.tls else {
      return AnyService(Application(router: router, configuration: configuration, onServerRunning: onRunning, logger: logger))
    }
    var tlsConfiguration = TLSConfiguration.makeServerConfiguration(
      certificateChain: try NIOSSLCertificate.fromPEMFile(tls.certificateChain).map { .certificate($0) },
      privateKey: .privateKey(try NIOSSLPrivateKey(file: tls.privateKey, format: .pem))
    )
    tlsConfiguration.minimumTLSVersion = .tlsv13
    return AnyService(Application(
      router: router,
      server: try .tls(.http1(), tlsConfiguration: tlsConfiguration),
      configuration: configuration,
      onServerRunning: onRunning,
      logger: logger
    ))
  }
}

/// A `Service` of any concrete type (the REST application's type depends on TLS).
struct AnyService: Service {
  let base: any Service
  init(_ base: any Service) { self.base = base }
  func run() async throws { try await self.base.run() }
}
