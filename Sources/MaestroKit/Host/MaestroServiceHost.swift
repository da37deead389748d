import GRPCCore
import GRPCNIOTransportHTTP2
public import Logging
import MaestroCore
public import Prometheus
import ServiceLifecycle

/// Runs one Maestro service process: its Postgres pool, its gRPC server (with health, request
/// ids, metrics, authentication), its admin HTTP listener and its background work, as one
/// `ServiceGroup` that drains gracefully on SIGTERM/SIGINT.
///
/// Startup fails with a clear error, and a non-zero exit, when Postgres is unreachable or the
/// service's schema is not migrated far enough.
public struct MaestroServiceHost: Sendable {
  public let configuration: ServiceConfiguration
  public let logger: Logger
  public let registry: PrometheusCollectorRegistry
  public let database: Database
  public let health = HealthStatusStore()
  public let tokenVerifier: TokenVerifier

  public init(
    configuration: ServiceConfiguration,
    logger: Logger,
    registry: PrometheusCollectorRegistry,
    jwksFetcher: (any JWKSFetcher)? = nil
  ) {
    self.configuration = configuration
    self.logger = logger
    self.registry = registry
    self.database = Database(configuration: configuration.database, logger: logger)
    self.tokenVerifier = TokenVerifier(
      configuration: configuration.token,
      fetcher: jwksFetcher ?? configuration.token.jwks.makeFetcher(),
      logger: logger
    )
  }

  /// The methods of `grpc.health.v1.Health`, callable without a token.
  public static let publicHealthMethods = [
    "grpc.health.v1.Health/Check",
    "grpc.health.v1.Health/Watch",
  ]

  /// Runs until SIGTERM/SIGINT (then drains and returns) or until a component fails (then throws).
  public func run(_ components: ServiceComponents) async throws {
    let configuration = self.configuration
    var policy = components.policy
    for method in Self.publicHealthMethods { policy.require(.public, for: method) }

    let transport = HTTP2ServerTransport.Posix(
      address: try Self.socketAddress(host: configuration.host, port: configuration.grpcPort),
      transportSecurity: components.grpcTransportSecurity,
      config: .defaults { config in
        // Flush coalescing adds ~110 µs to each unary call without raising throughput.
        config.connection.flushCoalescing = nil
      }
    )
    let server = GRPCServer(
      transport: transport,
      services: components.grpcServices + [HealthService(store: self.health)],
      interceptors: [
        RequestContextInterceptor(logger: self.logger, metrics: RPCMetrics(registry: self.registry, service: configuration.serviceName)),
        AuthenticationInterceptor(verifier: self.tokenVerifier, policy: policy),
      ] + components.interceptors
    )
    let database = self.database
    let logger = self.logger
    let grpcHost = GRPCServerHost(
      server: server,
      health: self.health,
      servedServices: components.servedServiceNames,
      drainDelay: configuration.drainDelay,
      logger: self.logger,
      preflight: {
        try await database.verifySchema(requiredVersion: components.requiredSchemaVersion)
        logger.info("schema verified", metadata: ["schema": "\(configuration.database.schema)", "required_version": "\(components.requiredSchemaVersion)"])
        try await components.preflight?()
      }
    )
    let health = self.health
    let admin = AdminServer.makeApplication(
      host: configuration.host,
      port: configuration.adminPort,
      registry: self.registry,
      readiness: {
        guard health.status() == .serving else { throw ReadinessFailure(reason: "gRPC server not serving") }
        try await database.ping()
      },
      logger: self.logger,
      onListening: { port in logger.info("admin HTTP listening", metadata: ["admin_port": "\(port)"]) }
    )

    // Registers the schema version this code knows with migration-service; started before the
    // gRPC server so it withdraws only after the server has drained.
    let expectation = SchemaExpectationRegistrar(
      database: database,
      version: max(components.knownSchemaVersion ?? components.requiredSchemaVersion, components.requiredSchemaVersion),
      logger: self.logger
    )
    let group = ServiceGroup(
      configuration: .init(
        // Started in order, shut down in reverse: background work stops first, the database last.
        // Any component ending (or failing) drains the others gracefully.
        services: ([database.client, admin, expectation, grpcHost] + components.backgroundServices).map {
          .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup)
        },
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: self.logger
      )
    )
    self.logger.info(
      "starting",
      metadata: [
        "service": "\(configuration.serviceName)",
        "database": "\(configuration.database)",
        "jwks": "\(configuration.token.jwks)",
      ]
    )
    try await group.run()
    self.logger.info("stopped")
  }

  static func socketAddress(host: String, port: Int) throws -> GRPCNIOTransportCore.SocketAddress {
    host.contains(":") ? .ipv6(host: host, port: port) : .ipv4(host: host, port: port)
  }
}

/// Why `/readyz` answers 503.
struct ReadinessFailure: Error, CustomStringConvertible {
  var reason: String
  var description: String { self.reason }
}
