import Foundation
import Logging
import MaestroCore
import MaestroKit
import MaestroProtos
import MaestroWorkflowModel
import PostgresNIO

/// The durable execution engine's operations. Every state change is one transaction on a
/// locked run row; executors claim ready steps with `FOR UPDATE SKIP LOCKED` under a lease,
/// and a completion carrying an old lease token is rejected (fencing).
///
/// Two pools: `api` connections see only the tenant set per transaction (row-level security on
/// `maestro.tenant`); `engine` connections run with `maestro.tenant = '*'` for system work.
final class WorkflowEngine: Sendable {
  let api: Database
  let engine: Database
  let definitions: DefinitionStore
  let configuration: EngineConfiguration
  let metrics: WorkflowMetrics
  let logger: Logger
  let now: @Sendable () -> Date
  /// Runs claimed steps (the built-ins; tests substitute their own).
  let executor: any StepExecutor
  /// Wakes idle executors (NOTIFY from any replica, or local work).
  let wakeup = Wakeup()
  /// Wakes the timer loop when this replica creates a timer.
  let timerWakeup = Wakeup()

  init(
    api: Database,
    engine: Database,
    definitions: DefinitionStore,
    configuration: EngineConfiguration,
    metrics: WorkflowMetrics,
    logger: Logger,
    executor: any StepExecutor = BuiltinStepExecutor(),
    now: @escaping @Sendable () -> Date = { Date() }
  ) {
    self.executor = executor
    self.api = api
    self.engine = engine
    self.definitions = definitions
    self.configuration = configuration
    self.metrics = metrics
    self.logger = logger
    self.now = now
  }

  /// Runs `body` in a transaction that can see only `tenant`'s rows.
  func inTenant<Result: Sendable>(_ tenant: String, _ body: (PostgresConnection) async throws -> Result) async throws -> Result {
    try await self.api.withTransaction { connection in
      _ = try await connection.query("SELECT set_config('maestro.tenant', \(tenant), true)", logger: self.logger).collect()
      return try await body(connection)
    }
  }

  // MARK: Starting runs

  struct StartRequest: Sendable {
    var workflowName: String
    var workflowVersion: Int
    var input: JSONValue
    var idempotencyKey: String?
    var labels: [String: String]
    var startedBy: String?
  }

  /// Starts a run, or returns the run an idempotency key already started.
  func startRun(tenant: String, _ request: StartRequest) async throws -> (RunRecord, created: Bool) {
    let result: (RunRecord, Bool, RunStatus?) = try await self.inTenant(tenant) { connection in
      if let key = request.idempotencyKey, let existing = try await self.runByIdempotencyKey(tenant: tenant, key: key, on: connection) {
        return (try self.checkSameWorkflow(existing, request), false, nil)
      }
      let workflow = try await self.definitions.compiled(tenant: tenant, name: request.workflowName, version: request.workflowVersion, on: connection)
      let input: JSONValue
      switch ParameterValidator.apply(workflow.parameters, to: request.input, path: "input") {
      case .success(let applied): input = applied
      case .failure(let issues): throw MaestroError.invalidDefinition(issues.issues, summary: "input does not match the workflow's parameters")
      }
      let now = self.now()
      let deadline = workflow.runTimeout.map { now.addingTimeInterval($0.seconds) }
      let slaDeadline = workflow.sla.map { now.addingTimeInterval($0.seconds) }
      let labels = JSONValue.object(request.labels.mapValues(JSONValue.string)).jsonText
      let rows = try await connection.query(
        """
        INSERT INTO runs (tenant, workflow_name, workflow_version, status, input, idempotency_key, started_by, labels,
          created_at, started_at, deadline, sla_deadline, updated_at)
        VALUES (\(tenant), \(workflow.name), \(workflow.version), 'RUNNING', \(input.jsonText)::jsonb, \(request.idempotencyKey),
          \(request.startedBy), \(labels)::jsonb, \(now), \(now), \(deadline), \(slaDeadline), \(now))
        ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
        RETURNING \(unescaped: RunRecord.columns)
        """,
        logger: self.logger
      )
      var inserted: RunRecord?
      for try await row in rows { inserted = try RunRecord(row: row) }
      guard let run = inserted else {
        // A concurrent start with the same key won the race: return its run.
        guard let key = request.idempotencyKey, let existing = try await self.runByIdempotencyKey(tenant: tenant, key: key, on: connection) else {
          throw MaestroError.internal(cause: nil)
        }
        return (try self.checkSameWorkflow(existing, request), false, nil)
      }
      var transaction = RunTransaction(connection: connection, logger: self.logger, run: run, workflow: workflow, now: now)
      transaction.record("RUN_CREATED", payload: ["input": input, "workflow": .string(workflow.name), "version": .number(Double(workflow.version))])
      transaction.record("RUN_STARTED")
      if let deadline { try await self.insertTimer(tenant: tenant, run: run.id, kind: "run_timeout", fireAt: deadline, on: connection) }
      if let slaDeadline { try await self.insertTimer(tenant: tenant, run: run.id, kind: "sla", fireAt: slaDeadline, on: connection) }
      try await transaction.advance(knownSteps: [:])
      try await transaction.flush()
      return (transaction.run, true, transaction.finishedStatus)
    }
    if result.1 {
      self.metrics.runStarted(workflow: result.0.workflowName)
      if result.0.deadline != nil || result.0.slaDeadline != nil { self.timerWakeup.signal() }
    }
    if let finished = result.2 { self.metrics.runFinished(result.0, status: finished) }
    return (result.0, result.1)
  }

  private func checkSameWorkflow(_ run: RunRecord, _ request: StartRequest) throws -> RunRecord {
    guard run.workflowName == request.workflowName else {
      throw MaestroError(.alreadyExists, "idempotency key '\(request.idempotencyKey ?? "")' was already used for a run of '\(run.workflowName)'")
    }
    return run
  }

  private func runByIdempotencyKey(tenant: String, key: String, on connection: PostgresConnection) async throws -> RunRecord? {
    let rows = try await connection.query(
      "SELECT \(unescaped: RunRecord.columns) FROM runs WHERE tenant = \(tenant) AND idempotency_key = \(key)",
      logger: self.logger
    )
    for try await row in rows { return try RunRecord(row: row) }
    return nil
  }

  func insertTimer(tenant: String, run: UUID, kind: String, fireAt: Date, step: String? = nil, attempt: Int? = nil, on connection: PostgresConnection) async throws {
    _ = try await connection.query(
      """
      INSERT INTO timers (tenant, run_id, step_id, attempt, kind, fire_at) VALUES (\(tenant), \(run), \(step), \(attempt), \(kind), \(fireAt))
      ON CONFLICT ON CONSTRAINT timers_unique DO UPDATE SET fire_at = EXCLUDED.fire_at
      """,
      logger: self.logger
    ).collect()
  }
}

extension MaestroError {
  /// INVALID_ARGUMENT listing every definition issue with its path.
  static func invalidDefinition(_ issues: [DefinitionIssue], summary: String) -> MaestroError {
    let first = issues.first
    let listed = issues.prefix(20).map(\.description).joined(separator: "; ")
    return MaestroError(.invalidArgument, "\(summary): \(listed)\(issues.count > 20 ? " (and \(issues.count - 20) more)" : "")", field: first?.path)
  }
}
