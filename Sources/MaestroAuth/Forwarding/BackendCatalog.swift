public import GRPCCore
import MaestroProtos

/// One backend gRPC service the gateway forwards: which process serves it and its methods,
/// straight from the generated descriptors (`…Service.Method.descriptors`).
public struct ForwardedService: Sendable {
  /// The backend process that serves it (`workflow-service`, …); its addresses are configured
  /// per backend (see ``BackendAddresses``).
  public var backend: String
  public var descriptor: ServiceDescriptor
  public var methods: [MethodDescriptor]
  /// Methods whose response is a stream: forwarded message by message as they arrive.
  /// Every other method is forwarded as one exchange, which keeps the backend's initial
  /// metadata, message and trailers exactly.
  public var serverStreaming: Set<String>

  public init(backend: String, descriptor: ServiceDescriptor, methods: [MethodDescriptor], serverStreaming: Set<String> = []) {
    self.backend = backend
    self.descriptor = descriptor
    self.methods = methods
    self.serverStreaming = serverStreaming
  }

  /// Whether `method` streams its responses.
  public func streamsResponses(_ method: MethodDescriptor) -> Bool {
    self.serverStreaming.contains(method.method)
  }
}

/// Every backend service the gateway forwards, by process.
public struct BackendCatalog: Sendable {
  public var services: [ForwardedService]

  public init(services: [ForwardedService]) {
    self.services = services
  }

  /// The backends' names, in catalog order, without duplicates.
  public var backends: [String] {
    var seen = Set<String>()
    return self.services.map(\.backend).filter { seen.insert($0).inserted }
  }

  /// The service that owns `method` (`package.Service/Method`), if forwarded.
  public func service(forMethod method: String) -> ForwardedService? {
    self.services.first { service in service.methods.contains { $0.fullyQualifiedMethod == method } }
  }

  /// Maestro's v1 backends: workflow-service (workflows, templates, runs, the worker API),
  /// scheduler, metrics-service and migration-service.
  public static let maestro = BackendCatalog(services: [
    ForwardedService(
      backend: "workflow-service",
      descriptor: Maestro_Workflow_V1_WorkflowService.descriptor,
      methods: Maestro_Workflow_V1_WorkflowService.Method.descriptors,
      serverStreaming: [Maestro_Workflow_V1_WorkflowService.Method.WatchRun.descriptor.method]
    ),
    ForwardedService(
      backend: "workflow-service",
      descriptor: Maestro_Workflow_V1_WorkerService.descriptor,
      methods: Maestro_Workflow_V1_WorkerService.Method.descriptors
    ),
    ForwardedService(
      backend: "scheduler",
      descriptor: Maestro_Scheduler_V1_SchedulerService.descriptor,
      methods: Maestro_Scheduler_V1_SchedulerService.Method.descriptors
    ),
    ForwardedService(
      backend: "metrics-service",
      descriptor: Maestro_Metrics_V1_MetricsService.descriptor,
      methods: Maestro_Metrics_V1_MetricsService.Method.descriptors
    ),
    ForwardedService(
      backend: "migration-service",
      descriptor: Maestro_Migration_V1_MigrationService.descriptor,
      methods: Maestro_Migration_V1_MigrationService.Method.descriptors
    ),
  ])
}
