public import Hummingbird
public import Logging
public import Prometheus
import NIOCore

/// The admin HTTP listener every service runs: `/healthz` (liveness: the process answers),
/// `/readyz` (readiness: the checks pass, e.g. the database answers and the server is not
/// draining) and `/metrics` (Prometheus text format). Unauthenticated by design; bind it where
/// only the cluster can reach it.
public enum AdminServer {
  /// A readiness check: throws a description of what is not ready.
  public typealias ReadinessCheck = @Sendable () async throws -> Void

  /// The router, separate so tests can drive it in-process.
  public static func makeRouter(
    registry: PrometheusCollectorRegistry,
    readiness: @escaping ReadinessCheck
  ) -> Router<BasicRequestContext> {
    let router = Router()
    router.get("/healthz") { _, _ in
      Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
    }
    router.get("/readyz") { _, _ in
      do {
        try await readiness()
        return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: "ready\n")))
      } catch {
        return Response(
          status: .serviceUnavailable,
          headers: [.contentType: "text/plain; charset=utf-8"],
          body: .init(byteBuffer: ByteBuffer(string: "not ready: \(error)\n"))
        )
      }
    }
    router.get("/metrics") { _, _ in
      var buffer = [UInt8]()
      registry.emit(into: &buffer)
      return Response(
        status: .ok,
        headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
        body: .init(byteBuffer: ByteBuffer(bytes: buffer))
      )
    }
    return router
  }

  /// The admin application bound to `host:port` (0 picks a free port; `onListening` receives
  /// the bound port).
  public static func makeApplication(
    host: String,
    port: Int,
    registry: PrometheusCollectorRegistry,
    readiness: @escaping ReadinessCheck,
    logger: Logger,
    onListening: @escaping @Sendable (Int) -> Void = { _ in }
  ) -> some ApplicationProtocol {
    Application(
      router: self.makeRouter(registry: registry, readiness: readiness),
      configuration: .init(address: .hostname(host, port: port), serverName: nil),
      onServerRunning: { channel in
        if let port = channel.localAddress?.port { onListening(port) }
      },
      logger: logger
    )
  }
}
