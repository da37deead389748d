import Hummingbird
import Logging
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

  /// What the gateway runs inside its host: the REST listener beside the gRPC server.
  public static func components(host: MaestroServiceHost, restPort: Int) -> ServiceComponents {
    ServiceComponents(
      requiredSchemaVersion: self.requiredSchemaVersion,
      backgroundServices: [
        self.makeRESTApplication(host: host.configuration.host, port: restPort, health: host.health, logger: host.logger)
      ]
    )
  }

  /// The REST listener. `/healthz` mirrors the gRPC server's health (503 while draining).
  static func makeRESTApplication(
    host: String,
    port: Int,
    health: HealthStatusStore,
    logger: Logger
  ) -> some Service {
    let router = Router()
    router.get("/healthz") { _, _ -> Response in
      let serving = health.status() == .serving
      return Response(
        status: serving ? .ok : .serviceUnavailable,
        headers: [.contentType: "application/json"],
        body: .init(byteBuffer: ByteBuffer(string: serving ? #"{"status":"SERVING"}"# : #"{"status":"NOT_SERVING"}"#))
      )
    }
    return Application(
      router: router,
      configuration: .init(address: .hostname(host, port: port), serverName: nil),
      onServerRunning: { channel in
        logger.info("REST listening", metadata: ["rest_port": "\(channel.localAddress?.port ?? port)"])
      },
      logger: logger
    )
  }
}
