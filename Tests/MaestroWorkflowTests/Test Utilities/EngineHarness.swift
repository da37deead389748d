import Foundation
import GRPCCore
import GRPCInProcessTransport
import Logging
import MaestroCore
import MaestroKit
import MaestroProtos
import MaestroTestSupport
@testable import MaestroWorkflow
import MaestroWorkflowModel
import PostgresNIO
import Prometheus
import ServiceLifecycle
import Synchronization
import Testing

/// A migrated test database with one or more engine "replicas" running against it, and an
/// in-process gRPC server in front of the first (with the real interceptors and a test issuer).
struct EngineHarness {
  let db: TestDatabase
  let replicas: [WorkflowEngine]
  let client: GRPCClient<InProcessTransport.Client>
  let issuer: TestTokenIssuer
  let registry: PrometheusCollectorRegistry

  var engine: WorkflowEngine { self.replicas[0] }

  static func engineConfiguration(_ identity: String) -> EngineConfiguration {
    var configuration = EngineConfiguration(identity: identity)
    configuration.lease = .seconds(2)
    configuration.idleWakeup = .milliseconds(500)
    configuration.executors = 2
    return configuration
  }

  /// Runs `body` with `replicas` engines started (each with its own pools and runner).
  static func with(
    replicas count: Int = 1,
    executor: (any StepExecutor)? = nil,
    startRunners: Bool = true,
    _ body: (EngineHarness) async throws -> Void
  ) async throws {
    try await TestDatabase.with { db in
      try await db.migrate()
      let logger = Logger(label: "test.workflow")
      let registry = PrometheusCollectorRegistry()
      var engines: [WorkflowEngine] = []
      var services: [any Service] = []
      for index in 0..<count {
        var apiConfig = try db.serviceConfiguration(schema: "workflow")
        apiConfig.maxConnections = 8
        let api = Database(configuration: apiConfig, logger: logger)
        var engineConfig = try db.serviceConfiguration(schema: "workflow")
        engineConfig.maxConnections = 6
        engineConfig.sessionSettings = [("maestro.tenant", "*")]
        let engineDB = Database(configuration: engineConfig, logger: logger)
        let engine = WorkflowEngine(
          api: api, engine: engineDB, definitions: DefinitionStore(logger: logger),
          configuration: Self.engineConfiguration("replica-\(index)"), metrics: WorkflowMetrics(registry: registry),
          logger: logger, executor: executor ?? BuiltinStepExecutor()
        )
        engines.append(engine)
        services += [api.client, engineDB.client]
        if startRunners { services.append(EngineRunner(engine: engine)) }
      }
      let group = ServiceGroup(services: services, logger: logger)
      let issuer = try await TestTokenIssuer.make()
      let verifier = TokenVerifier(configuration: .test(), fetcher: InMemoryJWKSFetcher(jwks: issuer.publicJWKS), logger: logger)
      let transport = InProcessTransport()
      try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        do {
          try await withGRPCServer(
          transport: transport.server,
          services: [
            WorkflowGRPCService(engine: engines[0], events: RunEventPoller(engine: engines[0], interval: .milliseconds(50))),
            WorkerGRPCService(engine: engines[0]),
          ],
          interceptors: [
            RequestContextInterceptor(logger: logger, metrics: RPCMetrics(registry: registry, service: "workflow-service")),
            AuthenticationInterceptor(verifier: verifier, policy: .maestro),
          ]
        ) { _ in
          try await withGRPCClient(transport: transport.client) { client in
            try await body(EngineHarness(db: db, replicas: engines, client: client, issuer: issuer, registry: registry))
          }
          }
        } catch {
          await group.triggerGracefulShutdown()
          try? await tasks.waitForAll()
          throw error
        }
        // Drain like a real shutdown: runners stop first, then their pools.
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
      }
    }
  }

  /// Call options carrying a token for `tenant` with `roles`.
  func auth(tenant: String = "acme", roles: [String] = ["workflow-author"]) async throws -> Metadata {
    let token = try await self.issuer.sign(TestTokenIssuer.claims(subject: "tester", tenant: tenant, roles: roles))
    return ["authorization": "Bearer \(token)"]
  }

  var workflows: Maestro_Workflow_V1_WorkflowService.Client<InProcessTransport.Client> {
    Maestro_Workflow_V1_WorkflowService.Client(wrapping: self.client)
  }

  var workers: Maestro_Workflow_V1_WorkerService.Client<InProcessTransport.Client> {
    Maestro_Workflow_V1_WorkerService.Client(wrapping: self.client)
  }

  /// Registers a definition given as YAML for `tenant`.
  @discardableResult
  func register(_ yaml: String, tenant: String = "acme") async throws -> Maestro_Workflow_V1_Workflow {
    let definition = try DefinitionLoader.definition(yaml: yaml)
    return try await self.workflows.registerWorkflow(.with { $0.definition = definition }, metadata: try await self.auth(tenant: tenant)).workflow
  }

  /// Starts a run and returns its id.
  func start(_ workflow: String, input: JSONValue = [:], key: String = "", tenant: String = "acme") async throws -> Maestro_Workflow_V1_StartRunResponse {
    try await self.workflows.startRun(
      .with {
        $0.workflowName = workflow
        $0.input = input.protobufStruct
        $0.idempotencyKey = key
      },
      metadata: try await self.auth(tenant: tenant)
    )
  }

  func run(_ id: String, tenant: String = "acme") async throws -> Maestro_Workflow_V1_Run {
    try await self.workflows.getRun(.with { $0.runID = id }, metadata: try await self.auth(tenant: tenant)).run
  }

  /// Polls until the run is terminal (or `timeout` passes).
  func waitForTerminal(_ id: String, tenant: String = "acme", timeout: Duration = .seconds(60)) async throws -> Maestro_Workflow_V1_Run {
    let deadline = ContinuousClock.now + timeout
    while true {
      let run = try await self.run(id, tenant: tenant)
      if [.completed, .failed, .cancelled, .timedOut].contains(run.status) { return run }
      guard ContinuousClock.now < deadline else {
        Issue.record("run \(id) still \(run.status) after \(timeout)")
        return run
      }
      try await Task.sleep(for: .milliseconds(25))
    }
  }

  func history(_ id: String, tenant: String = "acme") async throws -> [Maestro_Workflow_V1_RunEvent] {
    var events: [Maestro_Workflow_V1_RunEvent] = []
    var token = ""
    repeat {
      let page = try await self.workflows.getRunHistory(
        .with {
          $0.runID = id
          $0.pageToken = token
          $0.pageSize = 100
        },
        metadata: try await self.auth(tenant: tenant)
      )
      events += page.events
      token = page.nextPageToken
    } while !token.isEmpty
    return events
  }

  /// Rows of `sql` (first column, as text) seen by the superuser.
  func adminQuery(_ sql: String) async throws -> [String] {
    try await withRunningClient(try self.db.adminConfiguration()) { client in
      var values: [String] = []
      for try await value in try await client.query(PostgresQuery(unsafeSQL: sql)).decode(String.self) { values.append(value) }
      return values
    }
  }
}

/// A step executor that fails the first `failures` attempts of steps whose id starts with
/// "flaky", then behaves like the built-ins.
struct FlakyExecutor: StepExecutor {
  let failures: Int
  func execute(_ step: WorkflowEngine.ClaimedStep, now: Date) async -> BuiltinExecutor.Result {
    if step.stepID.hasPrefix("flaky"), step.attempt <= self.failures {
      return .failed(StepFailure("flaky attempt \(step.attempt)", errorClass: .platform))
    }
    return await BuiltinStepExecutor().execute(step, now: now)
  }
}
