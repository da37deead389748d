public import GRPCCore
public import GRPCNIOTransportHTTP2
public import MaestroCore
public import ServiceLifecycle

/// What a service contributes to its process: its gRPC services, who may call them, the schema
/// version it needs, and any background work (engines, schedulers, extra listeners).
public struct ServiceComponents: Sendable {
  /// The gRPC services to register (health is added by the host).
  public var grpcServices: [any RegistrableRPCService & Sendable]
  /// Fully qualified names reported by `grpc.health.v1.Health` (e.g. `maestro.workflow.v1.WorkflowService`).
  public var servedServiceNames: [String]
  /// Requirement per method; unmapped methods are denied. Health is made public by the host.
  public var policy: AccessPolicy
  /// The lowest schema version of the service's own schema this build can run against.
  public var requiredSchemaVersion: Int
  /// Long-lived work started with the servers and stopped before the database.
  public var backgroundServices: [any Service]
  /// Server interceptors run after authentication (the principal is in ``RequestContext``).
  public var interceptors: [any ServerInterceptor]
  /// The highest migration version of its schema this build knows (ships with), expand or
  /// contract; registered with migration-service so contract migrations wait for every instance
  /// to know them. nil: ``requiredSchemaVersion``.
  public var knownSchemaVersion: Int?
  /// Startup work that needs the database, run after the schema check and before the gRPC
  /// server reports SERVING (e.g. bootstrap data, loading keys). A failure stops the service.
  public var preflight: (@Sendable () async throws -> Void)?
  /// How the gRPC listener is secured: plaintext (the default) or TLS (the gateway's public
  /// port when a certificate is configured).
  public var grpcTransportSecurity: HTTP2ServerTransport.Posix.TransportSecurity = .plaintext

  public init(
    grpcServices: [any RegistrableRPCService & Sendable] = [],
    servedServiceNames: [String] = [],
    policy: AccessPolicy = AccessPolicy(),
    requiredSchemaVersion: Int,
    backgroundServices: [any Service] = [],
    interceptors: [any ServerInterceptor] = [],
    preflight: (@Sendable () async throws -> Void)? = nil
  ) {
    self.grpcServices = grpcServices
    self.servedServiceNames = servedServiceNames
    self.policy = policy
    self.requiredSchemaVersion = requiredSchemaVersion
    self.backgroundServices = backgroundServices
    self.interceptors = interceptors
    self.preflight = preflight
  }
}
