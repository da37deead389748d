import Foundation
import Logging
import MaestroCore
public import MaestroKit
import MaestroProtos
import PostgresNIO
import ServiceLifecycle

/// workflow-service's process: definitions, runs, the durable engine and the worker API, in the
/// `workflow` schema.
public enum WorkflowServer {
  /// Local defaults: gRPC 9101, admin 9202, role `maestro_workflow`.
  public static let defaults = ServiceDefaults(serviceName: "workflow-service", schema: "workflow", grpcPort: 9101, adminPort: 9202)

  /// The `workflow` schema version this build needs (its highest migration).
  public static let requiredSchemaVersion = 6

  /// The service's own settings.
  public struct Settings: Sendable {
    public var engine: EngineConfiguration
    public var workflowsDirectory: String
    /// Tenant the reference workflows are registered for at startup; empty = none.
    public var referenceTenant: String
    /// Where finished runs are reported (metrics-service); nil = not reported.
    public var reporter: ReporterOptions.Settings? = nil
    /// The `http` step type: allowlist, secrets, limits.
    public var http = HTTPStepSettings()
  }

  /// What workflow-service runs inside its host.
  public static func components(host: MaestroServiceHost, settings: Settings) -> ServiceComponents {
    var engineDatabase = host.configuration.database
    // System work (claims, timers, leases) spans tenants: row-level security lets it through only
    // with this explicit setting; API connections never carry it.
    engineDatabase.sessionSettings = [("maestro.tenant", "*")]
    engineDatabase.maxConnections = settings.engine.executors * settings.engine.parallelism + 3
    let engineDB = Database(configuration: engineDatabase, logger: host.logger)
    var reporter: OutcomeReporter?
    do {
      reporter = try settings.reporter?.makeReporter(registry: host.registry, logger: host.logger)
    } catch {
      host.logger.error("outcome reporting disabled: cannot create the metrics-service client", metadata: ["error": "\(error)"])
    }
    let httpClient = HTTPClientService.makeClient()
    let http = HTTPStepExecutor(client: httpClient, settings: settings.http, maxTimeout: max(.seconds(1), settings.engine.lease - .seconds(1)))
    let engine = WorkflowEngine(
      api: host.database,
      engine: engineDB,
      definitions: DefinitionStore(logger: host.logger),
      configuration: settings.engine,
      metrics: WorkflowMetrics(registry: host.registry, reporter: reporter),
      logger: host.logger,
      executor: EngineStepExecutor(http: http)
    )
    let installer = ReferenceWorkflows(engine: engine, directory: settings.workflowsDirectory + "/reference", tenant: settings.referenceTenant)
    let templates = ShippedTemplates(engine: engine, directory: settings.workflowsDirectory + "/templates", tenant: settings.referenceTenant)
    return ServiceComponents(
      grpcServices: [WorkflowGRPCService(engine: engine, events: RunEventPoller(engine: engine)), WorkerGRPCService(engine: engine)],
      servedServiceNames: [
        Maestro_Workflow_V1_WorkflowService.descriptor.fullyQualifiedService, Maestro_Workflow_V1_WorkerService.descriptor.fullyQualifiedService,
      ],
      policy: .maestro,
      requiredSchemaVersion: self.requiredSchemaVersion,
      backgroundServices: [engineDB.client, EngineRunner(engine: engine, beforeStart: {
        try await installer.install()
        try await templates.install()
      }), HTTPClientService(client: httpClient)]
        + (reporter.map { [$0] } ?? [])
    )
  }
}
