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
  /// Asks the runner's notifier to tell the other replicas that work became ready.
  let notifyRequests = Wakeup()

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

  /// Call after committing a transaction that made steps READY: wakes this replica's executors
  /// now, and the other replicas through one `NOTIFY` per burst (sent by ``EngineRunner``'s
  /// notifier, outside the hot transactions).
  func readyWorkCommitted() {
    self.wakeup.signal()
    self.notifyRequests.signal()
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
  ///
  /// The first transition is planned here, in memory, and written with the run by one
  /// `start_run` statement: one round trip and one commit per start. The definition comes from
  /// the compiled cache; "latest" is the cached latest version, which `start_run` checks
  /// against the table (a newer registration makes it answer 'stale' and the start is planned
  /// again with the new version).
  func startRun(tenant: String, _ request: StartRequest) async throws -> (RunRecord, created: Bool) {
    var refreshLatest = false
    for _ in 0..<3 {
      let cached = refreshLatest ? nil : self.definitions.cached(tenant: tenant, name: request.workflowName, version: request.workflowVersion)
      let workflow: CompiledWorkflow
      if let cached {
        workflow = cached
      } else {
        workflow = try await self.inTenant(tenant) { connection in
          try await self.definitions.compiled(tenant: tenant, name: request.workflowName, version: request.workflowVersion, on: connection)
        }
      }
      switch try await self.tryStart(tenant: tenant, request, workflow: workflow) {
      case .created(let run, let finished, let ready):
        if ready { self.readyWorkCommitted() }
        self.metrics.runStarted(workflow: run.workflowName)
        if run.deadline != nil || run.slaDeadline != nil { self.timerWakeup.signal() }
        if let finished { self.metrics.runFinished(run, status: finished) }
        return (run, true)
      case .exists:
        guard let key = request.idempotencyKey,
          let existing = try await self.inTenant(tenant, { try await self.runByIdempotencyKey(tenant: tenant, key: key, on: $0) })
        else {
          continue
        }
        return (try self.checkSameWorkflow(existing, request), false)
      case .stale:
        refreshLatest = true
      }
    }
    throw MaestroError(.aborted, "workflow '\(request.workflowName)' changed while the run was being started; try again")
  }

  private enum StartOutcome {
    case created(RunRecord, finished: RunStatus?, ready: Bool)
    case exists
    case stale
  }

  private func tryStart(tenant: String, _ request: StartRequest, workflow: CompiledWorkflow) async throws -> StartOutcome {
    let input: JSONValue
    switch ParameterValidator.apply(workflow.parameters, to: request.input, path: "input") {
    case .success(let applied): input = applied
    case .failure(let issues): throw MaestroError.invalidDefinition(issues.issues, summary: "input does not match the workflow's parameters")
    }
    let now = self.now()
    let run = RunRecord(
      tenant: tenant, id: UUID(), workflowName: workflow.name, workflowVersion: workflow.version, status: .running, input: input,
      output: nil, error: nil, idempotencyKey: request.idempotencyKey, parentRunID: nil, parentStepID: nil, startedBy: request.startedBy,
      labels: .object(request.labels.mapValues(JSONValue.string)), createdAt: now, startedAt: now, finishedAt: nil,
      deadline: workflow.runTimeout.map { now.addingTimeInterval($0.seconds) },
      slaDeadline: workflow.sla.map { now.addingTimeInterval($0.seconds) }, slaMet: nil, lastEventSequence: 0, runAttempt: 1
    )
    return try await self.api.client.withConnection { connection in
      var transaction = RunTransaction(connection: connection, logger: self.logger, run: run, workflow: workflow, now: now, isNew: true)
      transaction.record("RUN_CREATED", payload: ["input": input, "workflow": .string(workflow.name), "version": .number(Double(workflow.version))])
      transaction.record("RUN_STARTED")
      if let deadline = run.deadline { transaction.addTimer(kind: "run_timeout", fireAt: deadline) }
      if let slaDeadline = run.slaDeadline { transaction.addTimer(kind: "sla", fireAt: slaDeadline) }
      try await transaction.advance()
      let w = transaction.startArguments()
      let planned = transaction.run
      let rows = try await connection.query(
        """
        SELECT start_run(\(tenant), \(planned.id), \(planned.workflowName), \(planned.workflowVersion)::integer, \(request.workflowVersion == 0),
          \(planned.status.rawValue), \(planned.input.jsonText)::jsonb, \(planned.output?.jsonText)::jsonb, \(planned.error?.jsonText)::jsonb,
          \(planned.idempotencyKey), \(planned.startedBy), \(planned.labels.jsonText)::jsonb, \(now), \(planned.finishedAt != nil),
          \(planned.deadline), \(planned.slaDeadline), \(planned.slaMet), \(planned.lastEventSequence),
          \(w.stepIDs)::text[], \(w.stepAttempts)::bigint[], \(w.stepTypes)::text[], \(w.stepStatuses)::text[], \(w.stepInputs)::text[],
          \(w.stepErrors)::text[], \(w.stepErrorClasses)::text[], \(w.stepVisibleAts)::timestamptz[], \(w.stepReady)::bool[],
          \(w.stepFinished)::bool[], \(w.timerKinds)::text[], \(w.timerFireAts)::timestamptz[], \(w.eventTypes)::text[],
          \(w.eventSteps)::text[], \(w.eventAttempts)::bigint[], \(w.eventPayloads)::text[])
        """,
        logger: self.logger
      )
      var answer = ""
      for try await value in rows.decode(String.self) { answer = value }
      switch answer {
      case "created": return .created(planned, finished: transaction.finishedStatus, ready: w.notify)
      case "exists": return .exists
      case "stale": return .stale
      default: throw MaestroError.internal(cause: nil)
      }
    }
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
}

extension MaestroError {
  /// INVALID_ARGUMENT listing every definition issue with its path.
  static func invalidDefinition(_ issues: [DefinitionIssue], summary: String) -> MaestroError {
    let first = issues.first
    let listed = issues.prefix(20).map(\.description).joined(separator: "; ")
    return MaestroError(.invalidArgument, "\(summary): \(listed)\(issues.count > 20 ? " (and \(issues.count - 20) more)" : "")", field: first?.path)
  }
}
