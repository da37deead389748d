import Foundation
import Logging
import MaestroCore
import MaestroKit
import MaestroWorkflowModel
import PostgresNIO

extension WorkflowEngine {
  /// A step attempt this replica holds the lease of.
  struct ClaimedStep: Sendable {
    var tenant: String
    var runID: UUID
    var stepID: String
    var attempt: Int
    var stepType: String
    var leaseToken: UUID
    var input: JSONValue
  }

  /// Claims up to `limit` ready built-in steps: one statement, `FOR UPDATE SKIP LOCKED` over the
  /// narrow partial index on `visible_at` (only READY engine steps are in it), so replicas never
  /// wait on each other and the scan never walks a backlog.
  func claim(limit: Int) async throws -> [ClaimedStep] {
    let leaseSeconds = self.configuration.lease.seconds
    let rows = try await self.engine.client.query(
      """
      UPDATE step_executions s
      SET status = 'RUNNING', lease_owner = \(self.configuration.identity), lease_token = gen_random_uuid(),
          lease_expires_at = now() + make_interval(secs => \(leaseSeconds)), started_at = now()
      FROM (SELECT tenant, run_id, step_id, attempt FROM step_executions
            WHERE status = 'READY' AND task_queue = '' AND visible_at <= now()
            ORDER BY visible_at LIMIT \(limit) FOR UPDATE SKIP LOCKED) c
      WHERE s.tenant = c.tenant AND s.run_id = c.run_id AND s.step_id = c.step_id AND s.attempt = c.attempt
      RETURNING s.tenant, s.run_id, s.step_id, s.attempt, s.step_type, s.lease_token, s.input::text
      """,
      logger: self.logger
    )
    var claimed: [ClaimedStep] = []
    for try await (tenant, runID, stepID, attempt, stepType, token, input) in rows.decode((String, UUID, String, Int, String, UUID, String?).self) {
      claimed.append(ClaimedStep(
        tenant: tenant, runID: runID, stepID: stepID, attempt: attempt, stepType: stepType, leaseToken: token,
        input: try input.map { try JSONValue(jsonText: $0) } ?? .object([:])
      ))
    }
    return claimed
  }

  /// The earliest time a READY engine step becomes visible (nil: none queued).
  func nextVisibleAt() async throws -> Date? {
    let rows = try await self.engine.client.query(
      "SELECT min(visible_at) FROM step_executions WHERE status = 'READY' AND task_queue = ''",
      logger: self.logger
    )
    for try await value in rows.decode(Date?.self) { return value }
    return nil
  }

  /// Executes claimed steps and records their outcomes, each in its own transaction, up to
  /// `parallelism` at a time (the batch is leased as a whole, so it is worked off concurrently).
  func execute(_ claimed: [ClaimedStep]) async throws {
    await withTaskGroup(of: Void.self) { group in
      var next = claimed.makeIterator()
      func startNext() -> Bool {
        guard let step = next.next() else { return false }
        group.addTask { await self.executeOne(step) }
        return true
      }
      for _ in 0..<self.configuration.parallelism where !startNext() { break }
      while await group.next() != nil { _ = startNext() }
    }
  }

  private func executeOne(_ step: ClaimedStep) async {
    let result = await self.executor.execute(step, now: self.now())
    do {
      try await self.recordAttempt(step, result: result)
    } catch {
      // The lease expires and another executor retries the attempt: at-least-once execution.
      self.logger.error("recording a step outcome failed", metadata: ["run_id": "\(step.runID)", "step": "\(step.stepID)", "error": "\(String(reflecting: error))"])
    }
  }

  /// Records an attempt's outcome if this replica still holds its lease; then advances the run.
  /// Returns false when the attempt was fenced off (lease lost, run cancelled or finished).
  @discardableResult
  func recordAttempt(_ step: ClaimedStep, result: BuiltinExecutor.Result) async throws -> Bool {
    let outcome: (accepted: Bool, run: RunRecord?, finished: RunStatus?, stepStatus: StepStatus?) = try await self.engine.withTransaction { connection in
      guard let run = try await RunTransaction.lockRun(tenant: step.tenant, id: step.runID, on: connection, logger: self.logger) else {
        return (false, nil, nil, nil)
      }
      let workflow = try await self.definitions.compiled(tenant: run.tenant, name: run.workflowName, version: run.workflowVersion, on: connection)
      var transaction = RunTransaction(connection: connection, logger: self.logger, run: run, workflow: workflow, now: self.now())
      let accepted = try await self.applyResult(result, to: step, in: &transaction)
      guard accepted else { return (false, nil, nil, nil) }
      try await transaction.advance()
      try await transaction.flush()
      return (true, transaction.run, transaction.finishedStatus, result.stepStatus)
    }
    if outcome.accepted, case .wait = result { self.timerWakeup.signal() }
    if outcome.accepted, let run = outcome.run {
      if let status = outcome.stepStatus { self.metrics.stepFinished(workflow: run.workflowName, type: step.stepType, status: status) }
      if let finished = outcome.finished { self.metrics.runFinished(run, status: finished) }
    }
    return outcome.accepted
  }

  /// Writes the attempt's row (fenced by its lease token) and the consequences of its result.
  func applyResult(_ result: BuiltinExecutor.Result, to step: ClaimedStep, in transaction: inout RunTransaction) async throws -> Bool {
    let now = transaction.now
    let tenant = step.tenant
    let connection = transaction.connection
    switch result {
    case .completed(let output):
      guard try await self.fencedUpdate(step, on: connection, status: .completed, output: output, finishedAt: now) else { return false }
      transaction.record("STEP_COMPLETED", step: step.stepID, attempt: step.attempt, payload: ["output": output])
    case .wait(let until):
      guard try await self.fencedUpdate(step, on: connection, status: .waiting) else { return false }
      try await self.insertTimer(tenant: tenant, run: step.runID, kind: "sleep", fireAt: until, step: step.stepID, attempt: step.attempt, on: connection)
      if let timeout = transaction.workflow.steps[step.stepID]?.timeout {
        try await self.insertTimer(tenant: tenant, run: step.runID, kind: "step_timeout", fireAt: now.addingTimeInterval(timeout.seconds), step: step.stepID, attempt: step.attempt, on: connection)
      }
      transaction.record("TIMER_STARTED", step: step.stepID, attempt: step.attempt, payload: ["fire_at": .string(Timestamps.format(until))])
    case .failed(let failure):
      guard try await self.fencedUpdate(step, on: connection, status: .failed, error: failure, finishedAt: now) else { return false }
      try await self.afterFailure(step: step.stepID, attempt: step.attempt, failure: failure, status: .failed, in: &transaction)
    }
    return true
  }

  /// After a failed attempt: schedules the next one per the retry policy, or leaves the step
  /// failed (the planner then fails the run unless the step allows failure).
  func afterFailure(step id: String, attempt: Int, failure: StepFailure, status: StepStatus, in transaction: inout RunTransaction) async throws {
    let eventType = status == .timedOut ? "STEP_TIMED_OUT" : "STEP_FAILED"
    let snapshots = try await transaction.loadSteps().snapshots
    let failuresOfClass = snapshots[id]?.failuresByClass[failure.errorClass] ?? 1
    let policy = transaction.workflow.steps[id]?.retryPolicy ?? .platformDefault
    switch policy.decide(attempt: attempt, failure: failure, failuresOfClass: failuresOfClass, random: Double.random(in: 0..<1)) {
    case .retry(let delay):
      let visibleAt = transaction.now.addingTimeInterval(delay.seconds)
      let input = try await self.input(of: id, attempt: attempt, run: transaction.run, on: transaction.connection)
      transaction.record(eventType, step: id, attempt: attempt, payload: ["error": failure.json, "will_retry": true])
      try await transaction.insertStep(id, attempt: attempt + 1, status: .ready, input: input, visibleAt: visibleAt)
      transaction.record("STEP_RETRY_SCHEDULED", step: id, attempt: attempt + 1, payload: [
        "delay_ms": .number((delay.seconds * 1000).rounded()), "visible_at": .string(Timestamps.format(visibleAt)),
      ])
    case .giveUp(let reason):
      transaction.record(eventType, step: id, attempt: attempt, payload: ["error": failure.json, "will_retry": false, "reason": .string(reason)])
    }
  }

  private func input(of step: String, attempt: Int, run: RunRecord, on connection: PostgresConnection) async throws -> JSONValue? {
    let rows = try await connection.query(
      "SELECT input::text FROM step_executions WHERE tenant = \(run.tenant) AND run_id = \(run.id) AND step_id = \(step) AND attempt = \(attempt)",
      logger: self.logger
    )
    for try await text in rows.decode(String?.self) { return try text.map { try JSONValue(jsonText: $0) } }
    return nil
  }

  /// Updates the attempt only while it is RUNNING under `step.leaseToken` (fencing): false
  /// when the lease was lost or the run moved on.
  private func fencedUpdate(
    _ step: ClaimedStep,
    on connection: PostgresConnection,
    status: StepStatus,
    output: JSONValue? = nil,
    error: StepFailure? = nil,
    finishedAt: Date? = nil
  ) async throws -> Bool {
    let rows = try await connection.query(
      """
      UPDATE step_executions
      SET status = \(status.rawValue), output = \(output?.jsonText)::jsonb, error = \(error?.json.jsonText)::jsonb,
          error_class = \(error?.errorClass.rawValue), finished_at = \(finishedAt),
          lease_token = NULL, lease_expires_at = NULL
      WHERE tenant = \(step.tenant) AND run_id = \(step.runID) AND step_id = \(step.stepID) AND attempt = \(step.attempt)
        AND status = 'RUNNING' AND lease_token = \(step.leaseToken)
      RETURNING 1
      """,
      logger: self.logger
    ).collect()
    return !rows.isEmpty
  }
}

extension BuiltinExecutor.Result {
  var stepStatus: StepStatus? {
    switch self {
    case .completed: .completed
    case .failed: .failed
    case .wait: nil
    }
  }
}
