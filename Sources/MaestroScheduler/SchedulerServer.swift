import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import MaestroCore
public import MaestroKit
import MaestroProtos
import ServiceLifecycle

/// scheduler's process: cron and interval schedules in the `scheduler` schema, starting runs
/// through workflow-service's gRPC API as the scheduler's service account.
public enum SchedulerServer {
  /// Local defaults: gRPC 9102, admin 9203, role `maestro_scheduler`.
  public static let defaults = ServiceDefaults(serviceName: "scheduler", schema: "scheduler", grpcPort: 9102, adminPort: 9203)

  /// The `scheduler` schema version this build needs (its highest migration).
  public static let requiredSchemaVersion = 3

  /// The service's own settings (see ``SchedulerOptions`` for their variables).
  public struct Settings: Sendable {
    public var workflowTarget = HostPort(host: "127.0.0.1", port: 9101)
    public var authTarget = HostPort(host: "127.0.0.1", port: 9090)
    public var clientID = "scheduler"
    public var clientSecretFile = ".local/secrets/scheduler.secret"
    public var serviceTenant = "default"
    public var tokenFile: String?
    public var credentialsDirectory: String?
    public var referenceSchedules = true
    public var referenceTenant = "default"
    var engine = SchedulerEngine.Configuration()

    public init() {}
  }

  /// What the scheduler runs inside its host.
  public static func components(host: MaestroServiceHost, settings: Settings = Settings()) throws -> ServiceComponents {
    let authClient = GRPCClient(transport: try .http2NIOPosix(target: .dns(host: settings.authTarget.host, port: settings.authTarget.port), transportSecurity: .plaintext))
    let own: any AccessTokenSource = settings.tokenFile.map { FileTokenSource(path: $0) }
      ?? ClientCredentialsTokenSource(client: authClient, clientID: settings.clientID, secretFile: settings.clientSecretFile)
    let tokens = TenantTokens(ownTenant: settings.serviceTenant, own: own, authClient: authClient, credentialsDirectory: settings.credentialsDirectory)
    let starter = try WorkflowRunStarter(target: settings.workflowTarget, tokens: tokens)
    var configuration = settings.engine
    configuration.replicaID = "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)"
    let engine = SchedulerEngine(database: host.database, starter: starter, metrics: SchedulerMetrics(registry: host.registry), configuration: configuration, logger: host.logger)
    let loop = SchedulerLoop(engine: engine) {
      if settings.referenceSchedules {
        try await ReferenceSchedules.install(engine: engine, tenant: settings.referenceTenant)
      }
    }
    return ServiceComponents(
      grpcServices: [SchedulerGRPCService(engine: engine)],
      servedServiceNames: [Maestro_Scheduler_V1_SchedulerService.descriptor.fullyQualifiedService],
      policy: .maestro,
      requiredSchemaVersion: self.requiredSchemaVersion,
      backgroundServices: [ClientService(starter: starter), loop]
    )
  }
}

/// Runs the workflow-service and gateway client connections for the process's lifetime.
struct ClientService: Service {
  let starter: any RunStarter

  func run() async throws {
    try await cancelWhenGracefulShutdown {
      try await self.starter.run()
    }
  }
}
