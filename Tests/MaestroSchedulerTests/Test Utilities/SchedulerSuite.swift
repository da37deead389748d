import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import MaestroKit
import MaestroProtos
import MaestroTestSupport
import PostgresNIO
import SwiftProtobuf
import Testing

/// A migrated test database, a real workflow-service process (with test workflows), and
/// scheduler processes started on demand, all on port 0, with tokens from a test issuer.
struct SchedulerSuite: Sendable {
  let db: TestDatabase
  let issuer: TestTokenIssuer
  let directory: String
  let jwksFile: String
  let workflow: ServiceProcess
  let workflowPort: Int
  /// The scheduler's service-account token (platform-operator in `default`), in a file.
  let tokenFile: String
  let user: Metadata

  /// Test workflows: `quick` (one noop), `nap` (sleeps 5 s), `boom` (fails at once).
  static let workflows = """
    name: quick
    steps:
      - {id: only, type: noop}
    ---
    name: nap
    steps:
      - {id: nap, type: sleep, sleep: {duration: 5s}}
    ---
    name: boom
    steps:
      - {id: boom, type: fail, fail: {message: "no luck", error_class: ERROR_CLASS_PLATFORM}, retry_policy: {max_attempts: 1}}
    """

  static func with(_ body: (SchedulerSuite) async throws -> Void) async throws {
    try await TestDatabase.with { db in
      try await db.migrate()
      let issuer = try await TestTokenIssuer.make()
      let directory = FileManager.default.temporaryDirectory.appendingPathComponent("maestro-scheduler-\(UUID().uuidString)").path
      try FileManager.default.createDirectory(atPath: directory + "/workflows/reference", withIntermediateDirectories: true)
      defer { try? FileManager.default.removeItem(atPath: directory) }
      for (index, document) in Self.workflows.components(separatedBy: "---\n").enumerated() {
        try document.write(toFile: "\(directory)/workflows/reference/test-\(index).yaml", atomically: true, encoding: .utf8)
      }
      let jwksFile = directory + "/jwks.json"
      try issuer.publicJWKS.write(toFile: jwksFile, atomically: true, encoding: .utf8)
      let tokenFile = directory + "/scheduler.token"
      let token = try await issuer.sign(TestTokenIssuer.claims(subject: "scheduler", tenant: "default", roles: ["platform-operator"], expiresIn: 3600))
      try token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
      let workflow = try ServiceProcess(
        name: "workflow-service",
        arguments: ["serve", "--host", "127.0.0.1", "--grpc-port", "0", "--admin-port", "0"],
        environment: [
          "MAESTRO_DATABASE_URL": db.serviceURL(schema: "workflow"),
          "MAESTRO_JWKS_FILE": jwksFile,
          "MAESTRO_WORKFLOWS_DIR": directory + "/workflows",
          "MAESTRO_REFERENCE_TENANT": "default",
          "MAESTRO_LOG_FORMAT": "json",
        ]
      )
      let workflowPort = try await workflow.port("grpc_port")
      let userToken = try await issuer.sign(TestTokenIssuer.claims(subject: "ops", tenant: "default", roles: ["workflow-operator"], expiresIn: 3600))
      let suite = SchedulerSuite(
        db: db, issuer: issuer, directory: directory, jwksFile: jwksFile, workflow: workflow, workflowPort: workflowPort,
        tokenFile: tokenFile, user: ["authorization": "Bearer \(userToken)"])
      try await suite.waitForWorkflows()
      try await body(suite)
      _ = try await workflow.stop()
    }
  }

  /// Waits until workflow-service has registered the test workflows.
  func waitForWorkflows() async throws {
    try await self.withWorkflowClient { workflows in
      try await poll("test workflows registered", timeout: .seconds(60)) {
        (try? await workflows.getWorkflow(.with { $0.name = "boom" }, metadata: self.user)) != nil
      }
    }
  }

  /// Starts a scheduler replica with fast follow-up intervals (and no reference schedules).
  func startScheduler(_ extra: [String: String] = [:]) throws -> ServiceProcess {
    try ServiceProcess(
      name: "scheduler",
      arguments: ["serve", "--host", "127.0.0.1", "--grpc-port", "0", "--admin-port", "0"],
      environment: [
        "MAESTRO_DATABASE_URL": self.db.serviceURL(schema: "scheduler"),
        "MAESTRO_JWKS_FILE": self.jwksFile,
        "MAESTRO_WORKFLOW_TARGET": "127.0.0.1:\(self.workflowPort)",
        "MAESTRO_SCHEDULER_TOKEN_FILE": self.tokenFile,
        "MAESTRO_SCHEDULER_REFERENCE_SCHEDULES": "false",
        "MAESTRO_SCHEDULER_RUN_POLL_INTERVAL": "200ms",
        "MAESTRO_SCHEDULER_REDRIVE_AFTER": "2s",
        "MAESTRO_LOG_FORMAT": "json",
      ].merging(extra) { $1 }
    )
  }

  func withSchedulerClient<R: Sendable>(_ process: ServiceProcess, _ body: (Maestro_Scheduler_V1_SchedulerService.Client<HTTP2ClientTransport.Posix>) async throws -> R) async throws -> R {
    let port = try await process.port("grpc_port")
    return try await withGRPCClient(transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)) { client in
      try await body(Maestro_Scheduler_V1_SchedulerService.Client(wrapping: client))
    }
  }

  func withWorkflowClient<R: Sendable>(_ body: (Maestro_Workflow_V1_WorkflowService.Client<HTTP2ClientTransport.Posix>) async throws -> R) async throws -> R {
    try await withGRPCClient(transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: self.workflowPort), transportSecurity: .plaintext)) { client in
      try await body(Maestro_Workflow_V1_WorkflowService.Client(wrapping: client))
    }
  }

  /// Runs SQL as the test database's administrator.
  func sql(_ query: PostgresQuery) async throws -> [PostgresRow] {
    try await withRunningClient(try self.db.adminConfiguration()) { client in
      try await client.query(query).collect()
    }
  }

  static func schedule(
    _ id: String, cron: [String] = [], workflow: String = "quick", policy: Maestro_Scheduler_V1_OverlapPolicy = .skip,
    paused: Bool = false, configure: (inout Maestro_Scheduler_V1_Schedule) -> Void = { _ in }
  ) -> Maestro_Scheduler_V1_CreateScheduleRequest {
    .with {
      $0.schedule = .with { schedule in
        schedule.id = id
        schedule.spec = .with { $0.cronExpressions = cron }
        schedule.target = .with { $0.workflowName = workflow }
        schedule.overlapPolicy = policy
        schedule.state.paused = paused
        configure(&schedule)
      }
    }
  }
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes (then records a failure).
func poll(_ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws {
  let deadline = ContinuousClock.now + timeout
  while ContinuousClock.now < deadline {
    if try await condition() { return }
    try await Task.sleep(for: .milliseconds(50))
  }
  Issue.record("timed out after \(timeout) waiting for: \(what)")
  throw TestSetupError("timed out waiting for: \(what)")
}
