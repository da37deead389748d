import Foundation
import Logging
import MaestroCore
import MaestroKit
import MaestroWorkflowModel
import PostgresNIO

extension WorkflowEngine {
  /// Fires up to `limit` due timers, each in its own transaction (claimed with SKIP LOCKED,
  /// deleted as it fires, so a timer fires once even with several replicas). Returns how many.
  @discardableResult
  func fireDueTimers(limit: Int = 64) async throws -> Int {
    var fired = 0
    while fired < limit {
      let (handled, ready): (Bool, Bool) = try await self.engine.withTransaction { connection in
        let rows = try await connection.query(
          """
          DELETE FROM timers WHERE id = (
            SELECT id FROM timers WHERE fire_at <= now() ORDER BY fire_at LIMIT 1 FOR UPDATE SKIP LOCKED)
          RETURNING tenant, run_id, step_id, attempt, kind, fire_at
          """,
          logger: self.logger
        )
        var timer: (String, UUID, String?, Int?, String, Date)?
        for try await row in rows.decode((String, UUID, String?, Int?, String, Date).self) { timer = row }
        guard let (tenant, runID, stepID, attempt, kind, fireAt) = timer else { return (false, false) }
        if kind == "start_queued" {
          // Run strategies decide under the workflow's advisory lock, taken before any run lock
          // (as StartRun does), so a promotion and a cancel_previous start cannot deadlock.
          let names = try await connection.query("SELECT workflow_name FROM runs WHERE tenant = \(tenant) AND id = \(runID)", logger: self.logger)
          var workflowName: String?
          for try await name in names.decode(String.self) { workflowName = name }
          guard let workflowName else { return (true, false) }
          _ = try await connection.query(
            "SELECT pg_advisory_xact_lock(hashtext(\(Self.strategyLockKey(tenant: tenant, workflow: workflowName))))", logger: self.logger
          ).collect()
        }
        guard let run = try await RunTransaction.lockRun(tenant: tenant, id: runID, on: connection, logger: self.logger), !run.status.isTerminal else {
          return (true, false)
        }
        let workflow = try await self.definitions.compiled(tenant: tenant, name: run.workflowName, version: run.workflowVersion, on: connection)
        var transaction = RunTransaction(connection: connection, logger: self.logger, run: run, workflow: workflow, now: self.now())
        try await self.fire(kind: kind, stepID: stepID, attempt: attempt, fireAt: fireAt, in: &transaction)
        try await transaction.flush()
        if let finished = transaction.finishedStatus { self.metrics.runFinished(transaction.run, status: finished) }
        if kind == "sla", transaction.run.slaMet == false { self.metrics.slaMissed(workflow: run.workflowName) }
        return (true, transaction.scheduledReadyWork)
      }
      if ready { self.readyWorkCommitted() }
      guard handled else { break }
      fired += 1
    }
    return fired
  }

  private func fire(kind: String, stepID: String?, attempt: Int?, fireAt: Date, in transaction: inout RunTransaction) async throws {
    switch kind {
    case "sleep":
      guard let stepID, let attempt else { return }
      let rows = try await transaction.connection.query(
        """
        UPDATE step_executions SET status = 'COMPLETED', output = \(JSONValue.object(["woke_at": .string(Timestamps.format(fireAt))]).jsonText)::jsonb,
          finished_at = \(transaction.now)
        WHERE tenant = \(transaction.run.tenant) AND run_id = \(transaction.run.id) AND step_id = \(stepID) AND attempt = \(attempt) AND status = 'WAITING'
        RETURNING started_at
        """,
        logger: self.logger
      ).collect()
      guard let row = rows.first else { return }
      let startedAt = try row.decode(Date?.self, context: .default)
      transaction.deleteTimers(step: stepID, attempt: attempt)
      transaction.record("TIMER_FIRED", step: stepID, attempt: attempt, payload: ["fire_at": .string(Timestamps.format(fireAt))])
      transaction.record("STEP_COMPLETED", step: stepID, attempt: attempt, payload: ["output": ["woke_at": .string(Timestamps.format(fireAt))]])
      self.metrics.stepFinished(.init(
        tenant: transaction.run.tenant, workflow: transaction.run.workflowName, stepID: stepID, type: "sleep", status: .completed,
        startedAt: startedAt, finishedAt: transaction.now
      ))
      try await transaction.advance()
    case "step_timeout":
      guard let stepID, let attempt else { return }
      let failure = StepFailure("step '\(stepID)' attempt \(attempt) exceeded its timeout", errorClass: .timeout)
      try await self.timeOut(step: stepID, attempt: attempt, failure, from: ["RUNNING", "WAITING"], in: &transaction)
    case "schedule_to_start":
      guard let stepID, let attempt else { return }
      let failure = StepFailure("task '\(stepID)' attempt \(attempt) was not picked up by a worker within its schedule_to_start_timeout", errorClass: .timeout, type: "schedule_to_start")
      // Only while it waits in its queue: a claimed attempt is not affected.
      try await self.timeOut(step: stepID, attempt: attempt, failure, from: ["READY"], in: &transaction)
    case "signal_timeout":
      guard let stepID, let attempt, let step = transaction.workflow.stepSpec(stepID) else { return }
      transaction.record("TIMER_FIRED", step: stepID, attempt: attempt, payload: ["kind": "signal_timeout", "fire_at": .string(Timestamps.format(fireAt))])
      if try await self.resolveWaiting(step: stepID, attempt: attempt, with: SignalDelivery.timeout(of: step), failedStatus: .timedOut, in: &transaction) {
        try await transaction.advance()
      }
    case "child_done":
      guard let stepID, let attempt else { return }
      try await self.childFinished(step: stepID, attempt: attempt, in: &transaction)
    case "cancel_run":
      try await self.cancelForParent(in: &transaction)
    case "start_queued":
      try await self.promoteQueued(in: &transaction)
    case "run_timeout":
      try await transaction.finish(.timedOut, output: nil, error: StepFailure("the run exceeded its run_timeout", errorClass: .timeout).json)
    case "sla":
      if transaction.run.slaMet == nil {
        transaction.run.slaMet = false
        transaction.record("RUN_SLA_MISSED", payload: ["sla_deadline": .string(transaction.run.slaDeadline.map(Timestamps.format) ?? "")])
      }
    default:
      self.logger.warning("unknown timer kind", metadata: ["kind": "\(kind)"])
    }
  }

  /// Fails an attempt as TIMED_OUT if it is still in one of `statuses`, then lets the retry
  /// policy decide and advances the run.
  private func timeOut(step stepID: String, attempt: Int, _ failure: StepFailure, from statuses: [String], in transaction: inout RunTransaction) async throws {
    let now = transaction.now
    let rows = try await transaction.connection.query(
      """
      UPDATE step_executions SET status = 'TIMED_OUT', error = \(failure.json.jsonText)::jsonb, error_class = 'timeout',
        finished_at = \(now), lease_token = NULL, lease_expires_at = NULL
      WHERE tenant = \(transaction.run.tenant) AND run_id = \(transaction.run.id) AND step_id = \(stepID) AND attempt = \(attempt)
        AND status = ANY(\(statuses)::text[])
      RETURNING started_at
      """,
      logger: self.logger
    ).collect()
    guard let row = rows.first else { return }
    let startedAt = try row.decode(Date?.self, context: .default)
    transaction.noteStoredChange(step: stepID, attempt: attempt) { record in
      record.status = .timedOut
      record.error = failure
      record.finishedAt = now
    }
    transaction.deleteTimers(step: stepID, attempt: attempt)
    self.metrics.stepFinished(.init(
      tenant: transaction.run.tenant, workflow: transaction.run.workflowName, stepID: stepID,
      type: transaction.workflow.stepSpec(stepID)?.type.rawValue ?? "", status: .timedOut, errorClass: "timeout",
      startedAt: startedAt, finishedAt: now
    ))
    try await self.afterFailure(step: stepID, attempt: attempt, failure: failure, status: .timedOut, in: &transaction)
    try await transaction.advance()
  }

  /// The earliest due time of any timer (nil: none).
  func nextTimerAt() async throws -> Date? {
    let rows = try await self.engine.client.query("SELECT min(fire_at) FROM timers", logger: self.logger)
    for try await value in rows.decode(Date?.self) { return value }
    return nil
  }

  /// Puts steps whose lease expired (their executor died) back in the queue, same attempt,
  /// new lease on the next claim: the lease token fences any late completion by the old holder.
  @discardableResult
  func requeueExpiredLeases(limit: Int = 100) async throws -> Int {
    let rows = try await self.engine.client.query(
      """
      UPDATE step_executions s
      SET status = 'READY', visible_at = now(), lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
      FROM (SELECT tenant, run_id, step_id, attempt FROM step_executions
            WHERE status = 'RUNNING' AND task_queue = '' AND lease_expires_at < now()
            ORDER BY lease_expires_at LIMIT \(limit) FOR UPDATE SKIP LOCKED) c
      WHERE s.tenant = c.tenant AND s.run_id = c.run_id AND s.step_id = c.step_id AND s.attempt = c.attempt
      RETURNING s.run_id, s.step_id
      """,
      logger: self.logger
    ).collect()
    if !rows.isEmpty {
      self.logger.warning("re-queued steps whose lease expired", metadata: ["count": "\(rows.count)"])
      self.metrics.leasesExpired(rows.count)
      self.readyWorkCommitted()
    }
    return rows.count
  }
}
