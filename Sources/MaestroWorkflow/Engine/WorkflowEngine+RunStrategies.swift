import Foundation
import Logging
import MaestroCore
import MaestroKit
import MaestroProtos
import MaestroWorkflowModel
import PostgresNIO

/// Run strategies: how a new run of a workflow relates to its active (QUEUED or RUNNING) runs
/// in the same tenant, whatever starts it (API, schedule, template).
///
/// - `parallel` with `max_concurrent_runs` N: a start beyond N running runs, or behind runs
///   already queued, is queued (status QUEUED, PENDING in the API).
/// - `sequential`: one run at a time; new runs queue in start order.
/// - `skip_if_running`: a start while a run is active fails with FAILED_PRECONDITION.
/// - `cancel_previous`: a start cancels the active runs, then starts.
///
/// Starts of one workflow decide under `pg_advisory_xact_lock(hashtext(tenant/workflow))`, so
/// concurrent starts see each other. A run that ends queues a `start_queued` timer for the
/// oldest queued run; the timer loop promotes it when a slot is free, under the same lock
/// (``promoteQueued(in:)``). Unlimited `parallel` (the default) never takes the lock and keeps
/// the group-committed start path.
extension WorkflowEngine {
  /// Whether starts of `workflow` are decided under its run strategy.
  static func hasRunStrategy(_ workflow: CompiledWorkflow) -> Bool {
    switch workflow.definition.runStrategy.mode {
    case .sequential, .skipIfRunning, .cancelPrevious: true
    default: workflow.runLimit != nil
    }
  }

  /// The advisory lock key of a workflow's strategy decisions.
  static func strategyLockKey(tenant: String, workflow: String) -> String { "\(tenant)/\(workflow)" }

  /// Starts (or queues) a run of a workflow with a run strategy, in one transaction under the
  /// workflow's advisory lock. Returns nil when the definition went stale (plan again).
  func startWithStrategy(tenant: String, _ request: StartRequest, workflow: CompiledWorkflow) async throws -> (RunRecord, created: Bool)? {
    let mode = workflow.definition.runStrategy.mode
    let result: (run: RunRecord, created: Bool, ready: Bool, cancelled: [RunRecord], queued: Bool)? = try await self.inTenant(tenant) { connection in
      _ = try await connection.query(
        "SELECT pg_advisory_xact_lock(hashtext(\(Self.strategyLockKey(tenant: tenant, workflow: workflow.name))))", logger: self.logger
      ).collect()
      if let key = request.idempotencyKey, let existing = try await self.runByIdempotencyKey(tenant: tenant, key: key, on: connection) {
        return (try self.checkSameWorkflow(existing, request), false, false, [], false)
      }
      var active: [(id: UUID, status: RunStatus)] = []
      let rows = try await connection.query(
        """
        SELECT id, status FROM runs WHERE tenant = \(tenant) AND workflow_name = \(workflow.name) AND status IN ('QUEUED', 'RUNNING')
        ORDER BY created_at, id
        """,
        logger: self.logger
      )
      for try await (id, status) in rows.decode((UUID, String).self) { active.append((id, RunStatus(rawValue: status) ?? .running)) }

      var queue = false
      switch mode {
      case .skipIfRunning:
        if let first = active.first {
          throw MaestroError.failedPrecondition(
            "workflow '\(workflow.name)' has an active run (\(first.id.uuidString.lowercased()), \(first.status == .queued ? "PENDING" : "RUNNING")) and its run strategy is skip_if_running"
          )
        }
      case .sequential:
        queue = !active.isEmpty
      case .cancelPrevious:
        break
      default:
        let running = active.filter { $0.status == .running }.count
        queue = active.contains { $0.status == .queued } || running >= (workflow.runLimit ?? Int.max)
      }
      let planned = try await self.planStart(tenant: tenant, request, workflow: workflow, queued: queue)
      var cancelled: [RunRecord] = []
      if mode == .cancelPrevious {
        let newer = planned.run.id.uuidString.lowercased()
        for previous in active {
          guard let run = try await RunTransaction.lockRun(tenant: tenant, id: previous.id, on: connection, logger: self.logger), !run.status.isTerminal else { continue }
          let previousWorkflow = try await self.definitions.compiled(tenant: tenant, name: run.workflowName, version: run.workflowVersion, on: connection)
          var transaction = RunTransaction(connection: connection, logger: self.logger, run: run, workflow: previousWorkflow, now: self.now())
          let reason = "cancelled by the newer run \(newer) (run strategy cancel_previous)"
          transaction.record("RUN_CANCEL_REQUESTED", payload: ["reason": .string(reason), "by": .string("run:\(newer)")])
          try await transaction.finish(.cancelled, output: nil, error: StepFailure(reason, errorClass: .cancelled).json)
          try await transaction.flush()
          _ = try await connection.query(
            "UPDATE runs SET cancelled_by_run = \(planned.run.id) WHERE tenant = \(tenant) AND id = \(previous.id)", logger: self.logger
          ).collect()
          cancelled.append(transaction.run)
        }
      }
      var batch = StartBatch(tenant: tenant)
      batch.add(planned)
      switch try await batch.execute(on: connection, logger: self.logger)[planned.run.id] {
      case .created:
        _ = try await connection.query(
          """
          UPDATE runs SET strategy = \(Self.strategyName(mode)),
            started_at = CASE WHEN status = 'QUEUED' THEN NULL ELSE started_at END,
            queued_at = CASE WHEN status = 'QUEUED' THEN created_at END
          WHERE tenant = \(tenant) AND id = \(planned.run.id)
          """,
          logger: self.logger
        ).collect()
        return (planned.run, true, planned.transaction.scheduledReadyWork, cancelled, queue)
      case .exists:
        // The key was used meanwhile by a start of another workflow (which took another lock).
        guard let key = request.idempotencyKey, let existing = try await self.runByIdempotencyKey(tenant: tenant, key: key, on: connection) else {
          throw MaestroError(.aborted, "the run could not be started; try again")
        }
        return (try self.checkSameWorkflow(existing, request), false, false, [], false)
      case .stale, nil:
        return nil
      }
    }
    guard let result else { return nil }
    if result.created {
      if result.ready { self.readyWorkCommitted() }
      if !result.queued { self.metrics.runStarted(workflow: result.run.workflowName) }
      if result.run.deadline != nil || result.run.slaDeadline != nil || !result.cancelled.isEmpty { self.timerWakeup.signal() }
      for run in result.cancelled { self.metrics.runFinished(run, status: .cancelled) }
    }
    return (result.run, result.created)
  }

  /// The `start_queued` timer: starts the workflow's oldest queued run if a slot is free, and
  /// hands the next queued run a timer while slots remain. The caller holds the workflow's
  /// advisory lock and this run's row lock.
  func promoteQueued(in transaction: inout RunTransaction) async throws {
    let run = transaction.run
    guard run.status == .queued else { return }
    let connection = transaction.connection
    var queued: [UUID] = []
    var running = 0
    let rows = try await connection.query(
      """
      SELECT id, status FROM runs WHERE tenant = \(run.tenant) AND workflow_name = \(run.workflowName) AND status IN ('QUEUED', 'RUNNING')
      ORDER BY created_at, id
      """,
      logger: self.logger
    )
    for try await (id, status) in rows.decode((UUID, String).self) {
      if status == "QUEUED" { queued.append(id) } else { running += 1 }
    }
    let limit = transaction.workflow.runLimit ?? Int.max
    guard running < limit, let oldest = queued.first else { return }
    guard oldest == run.id else {
      // Start order: the oldest queued run goes first.
      try await Self.addStartQueuedTimer(tenant: run.tenant, run: oldest, now: transaction.now, on: connection, logger: self.logger)
      return
    }
    let now = transaction.now
    transaction.begin(payload: ["queued_for_ms": .number((now.timeIntervalSince(run.createdAt) * 1000).rounded())])
    _ = try await connection.query(
      """
      UPDATE runs SET started_at = \(now), queued_at = NULL, deadline = \(transaction.run.deadline), sla_deadline = \(transaction.run.slaDeadline)
      WHERE tenant = \(run.tenant) AND id = \(run.id)
      """,
      logger: self.logger
    ).collect()
    try await transaction.advance()
    self.metrics.runStarted(workflow: run.workflowName)
    if running + 1 < limit, queued.count > 1 {
      try await Self.addStartQueuedTimer(tenant: run.tenant, run: queued[1], now: now, on: connection, logger: self.logger)
    }
  }

  static func addStartQueuedTimer(tenant: String, run: UUID, now: Date, on connection: PostgresConnection, logger: Logger) async throws {
    _ = try await connection.query(
      """
      INSERT INTO timers (tenant, run_id, kind, fire_at) VALUES (\(tenant), \(run), 'start_queued', \(now))
      ON CONFLICT ON CONSTRAINT timers_unique DO NOTHING
      """,
      logger: logger
    ).collect()
  }

  static func strategyName(_ mode: Maestro_Workflow_V1_RunStrategyMode) -> String {
    switch mode {
    case .sequential: "sequential"
    case .skipIfRunning: "skip_if_running"
    case .cancelPrevious: "cancel_previous"
    default: "parallel"
    }
  }
}
