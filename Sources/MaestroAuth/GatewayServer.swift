public import Hummingbird
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

  /// What the gateway runs inside its host: the `AuthService`, the session guard, bootstrap
  /// and key loading before SERVING, the REST listener, NOTIFY invalidation and key rotation.
  /// `host` must have been created with `runtime.keyRing` as its JWKS fetcher.
  public static func components(host: MaestroServiceHost, runtime: GatewayRuntime, restPort: Int) -> ServiceComponents {
    let sessionGuard = SessionGuard(revocations: runtime.revocations, keyRing: runtime.keyRing)
    return ServiceComponents(
      grpcServices: [AuthGRPCService(api: runtime.api)],
      servedServiceNames: ["maestro.auth.v1.AuthService"],
      policy: self.policy,
      requiredSchemaVersion: self.requiredSchemaVersion,
      backgroundServices: [
        self.makeRESTApplication(host: host.configuration.host, port: restPort, health: host.health, runtime: runtime, logger: host.logger),
        runtime.invalidationListener(),
        runtime.keyMaintenance(),
      ],
      interceptors: [SessionGuardInterceptor(sessionGuard: sessionGuard)],
      preflight: { try await runtime.prepare() }
    )
  }

  /// The REST router: `/healthz` (mirrors the gRPC server's health, 503 while draining) and
  /// the identity API.
  public static func makeRouter(health: HealthStatusStore, runtime: GatewayRuntime) -> Router<GatewayRequestContext> {
    let router = Router(context: GatewayRequestContext.self)
    router.get("/healthz") { _, _ -> Response in
      let serving = health.status() == .serving
      return Response(
        status: serving ? .ok : .serviceUnavailable,
        headers: [.contentType: "application/json"],
        body: .init(byteBuffer: ByteBuffer(string: serving ? #"{"status":"SERVING"}"# : #"{"status":"NOT_SERVING"}"#))
      )
    }
    RESTGateway(runtime: runtime, policy: self.policy).addRoutes(to: router)
    return router
  }

  /// The REST listener.
  static func makeRESTApplication(
    host: String,
    port: Int,
    health: HealthStatusStore,
    runtime: GatewayRuntime,
    logger: Logger
  ) -> some Service {
    Application(
      router: self.makeRouter(health: health, runtime: runtime),
      configuration: .init(address: .hostname(host, port: port), serverName: nil),
      onServerRunning: { channel in
        logger.info("REST listening", metadata: ["rest_port": "\(channel.localAddress?.port ?? port)"])
      },
      logger: logger
    )
  }
}
