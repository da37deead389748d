public import GRPCCore
public import GRPCNIOTransportHTTP2
public import Logging
public import ServiceLifecycle

/// Runs a gRPC server (HTTP/2 over NIO, plaintext or TLS) as a lifecycle `Service`.
///
/// Start: runs `preflight` (e.g. the schema check), then marks `servedServices` SERVING and
/// serves. Graceful shutdown (SIGTERM): health turns NOT_SERVING and watch streams end, the
/// server waits `drainDelay` (so load balancers stop routing to it), then sends GOAWAY, stops
/// accepting and finishes in-flight RPCs.
public struct GRPCServerHost: Service {
  public let server: GRPCServer<HTTP2ServerTransport.Posix>
  private let health: HealthStatusStore
  private let servedServices: [String]
  private let drainDelay: Duration
  private let preflight: @Sendable () async throws -> Void
  private let logger: Logger

  /// - Parameters:
  ///   - servedServices: Fully qualified names reported SERVING once preflight passed.
  ///   - preflight: Work that must succeed before serving; its error ends the process.
  public init(
    server: GRPCServer<HTTP2ServerTransport.Posix>,
    health: HealthStatusStore,
    servedServices: [String],
    drainDelay: Duration,
    logger: Logger,
    preflight: @escaping @Sendable () async throws -> Void = {}
  ) {
    self.server = server
    self.health = health
    self.servedServices = servedServices
    self.drainDelay = drainDelay
    self.logger = logger
    self.preflight = preflight
  }

  /// The bound port, once listening (useful when configured with port 0).
  public var listeningPort: Int {
    get async throws {
      let address = try await self.server.transport.listeningAddress
      guard let port = address.ipv4?.port ?? address.ipv6?.port else {
        throw RuntimeError(code: .serverIsStopped, message: "not listening on an IP address")
      }
      return port
    }
  }

  private enum Finished { case served, drained, announced }

  public func run() async throws {
    try await self.preflight()
    for service in self.servedServices { self.health.set(.serving, for: service) }
    self.health.set(.serving)

    try await withThrowingTaskGroup(of: Finished.self) { group in
      group.addTask {
        try await self.server.serve()
        return .served
      }
      group.addTask {
        try await gracefulShutdown()
        self.logger.info("draining: health NOT_SERVING", metadata: ["drain_delay": "\(self.drainDelay)"])
        self.health.drain()
        if self.drainDelay > .zero { try? await Task.sleep(for: self.drainDelay) }
        self.server.beginGracefulShutdown()
        return .drained
      }
      group.addTask {
        let port = try await self.listeningPort
        self.logger.info("gRPC listening", metadata: ["grpc_port": "\(port)"])
        return .announced
      }
      // Normally the drain finishes first and the server then stops once in-flight RPCs end;
      // if the server stops on its own (an error), the drain task is cancelled.
      while let finished = try await group.next() {
        if finished == .served {
          group.cancelAll()
          return
        }
      }
    }
  }
}
