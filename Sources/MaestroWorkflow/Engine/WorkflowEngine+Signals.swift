import Foundation
import Logging
import MaestroCore
import MaestroKit
import MaestroWorkflowModel
import PostgresNIO

/// Signals: `wait_signal` and `approval` steps wait durably (status WAITING, no thread, no
/// lease) until SignalRun delivers their signal or their timeout timer fires.
///
/// A signal that arrives before its step waits is stored (`signals`, unconsumed) and consumed
/// when the step starts waiting, so arrival order between the two never loses a signal. Every
/// change happens under the run's row lock, in one transaction with the DAG advance.
extension WorkflowEngine {
  /// What SignalRun did.
  struct SignalOutcome: Sendable {
    /// The step the signal resumed (nil: none waited; the signal was stored for later).
    var stepID: String?
    var buffered: Bool { self.stepID == nil }
  }

  /// Delivers a named signal to a run of `tenant`: to the oldest attempt waiting for that name,
  /// or stored until one waits. `requestID` makes a retried call deliver once.
  func signalRun(tenant: String, id: UUID, name: String, payload: JSONValue, requestID: String, caller: Principal) async throws -> SignalOutcome {
    let (outcome, ready, finished): (SignalOutcome, Bool, (RunRecord, RunStatus)?) = try await self.inTenant(tenant) { connection in
      guard let run = try await RunTransaction.lockRun(tenant: tenant, id: id, on: connection, logger: self.logger) else {
        throw MaestroError.notFound("run \(id.uuidString.lowercased()) not found")
      }
      if !requestID.isEmpty {
        let seen = try await connection.query(
          "SELECT consumed_by_step FROM signals WHERE tenant = \(tenant) AND run_id = \(id) AND idempotency_key = \(requestID)",
          logger: self.logger
        ).collect()
        if let row = seen.first { return (SignalOutcome(stepID: try row.decode(String?.self)), false, nil) }
      }
      guard !run.status.isTerminal else {
        throw MaestroError.failedPrecondition("run is \(run.status.rawValue); it takes no more signals")
      }
      let workflow = try await self.definitions.compiled(tenant: tenant, name: run.workflowName, version: run.workflowVersion, on: connection)
      // Approval signals come from an allowed approver, whether or not the step waits yet.
      for step in workflow.order.compactMap({ workflow.steps[$0] }) where step.type == .approval && step.signalName == name {
        let approvers = step.proto.approval.approvers
        guard approvers.isEmpty || approvers.contains(caller.subject) || caller.roles.contains(where: { approvers.contains($0.rawValue) }) else {
          throw MaestroError(.permissionDenied, "'\(caller.subject)' is not an approver of step '\(step.id)' (approvers: \(approvers.joined(separator: ", ")))")
        }
      }
      var transaction = RunTransaction(connection: connection, logger: self.logger, run: run, workflow: workflow, now: self.now())
      let waiting = try await transaction.steps()
        .filter { $0.status == .waiting && workflow.stepSpec($0.stepID)?.signalName == name }
        .min { ($0.createdAt, $0.stepID) < ($1.createdAt, $1.stepID) }
      _ = try await connection.query(
        """
        INSERT INTO signals (tenant, run_id, name, payload, sent_by, idempotency_key, received_at, consumed_at, consumed_by_step)
        VALUES (\(tenant), \(id), \(name), \(payload.jsonText)::jsonb, \(caller.subject), \(requestID.isEmpty ? nil : requestID),
          \(transaction.now), \(waiting == nil ? nil : transaction.now), \(waiting?.stepID))
        """,
        logger: self.logger
      ).collect()
      transaction.record("SIGNAL_RECEIVED", step: waiting?.stepID, attempt: waiting?.attempt, payload: [
        "signal": .string(name), "payload": payload, "sent_by": .string(caller.subject), "buffered": .bool(waiting == nil),
      ])
      if let waiting {
        try await self.deliverSignal(step: waiting.stepID, attempt: waiting.attempt, payload: payload, sender: caller.subject, in: &transaction)
        try await transaction.advance()
      }
      try await transaction.flush()
      return (SignalOutcome(stepID: waiting?.stepID), transaction.scheduledReadyWork, transaction.finishedStatus.map { (transaction.run, $0) })
    }
    if ready { self.readyWorkCommitted() }
    if let (run, status) = finished {
      self.metrics.runFinished(run, status: status)
      self.timerWakeup.signal()  // a parent's child_done, or children's cancel_run
    }
    return outcome
  }

  /// A wait_signal/approval attempt has just become WAITING (in this transaction): it consumes
  /// the oldest stored signal of its name, or arms its timeout.
  func beginSignalWait(step id: String, attempt: Int, name: String, timeoutAt: Date?, in transaction: inout RunTransaction) async throws {
    let run = transaction.run
    let rows = try await transaction.connection.query(
      """
      UPDATE signals SET consumed_at = \(transaction.now), consumed_by_step = \(id)
      WHERE id = (SELECT id FROM signals WHERE tenant = \(run.tenant) AND run_id = \(run.id) AND name = \(name) AND consumed_at IS NULL
                  ORDER BY received_at, id LIMIT 1 FOR UPDATE)
      RETURNING payload::text, coalesce(sent_by, '')
      """,
      logger: self.logger
    )
    var stored: (payload: JSONValue, sender: String)?
    for try await (payload, sender) in rows.decode((String, String).self) { stored = (try JSONValue(jsonText: payload), sender) }
    if let stored {
      try await self.deliverSignal(step: id, attempt: attempt, payload: stored.payload, sender: stored.sender, in: &transaction)
      return
    }
    if let timeoutAt {
      transaction.addTimer(kind: "signal_timeout", fireAt: timeoutAt, step: id, attempt: attempt)
      transaction.record("TIMER_STARTED", step: id, attempt: attempt, payload: ["kind": "signal_timeout", "fire_at": .string(Timestamps.format(timeoutAt))])
    }
    if let timeout = transaction.workflow.stepSpec(id)?.timeout {
      transaction.addTimer(kind: "step_timeout", fireAt: transaction.now.addingTimeInterval(timeout.seconds), step: id, attempt: attempt)
    }
  }

  /// Resolves a waiting wait_signal/approval attempt with a signal (the run is locked).
  func deliverSignal(step id: String, attempt: Int, payload: JSONValue, sender: String, in transaction: inout RunTransaction) async throws {
    guard let step = transaction.workflow.stepSpec(id) else { return }
    try await self.resolveWaiting(step: id, attempt: attempt, with: SignalDelivery.result(of: step, payload: payload, sender: sender), in: &transaction)
  }

  /// Ends a WAITING attempt with `result`: completed, or failed (as `failedStatus`) with the
  /// retry decision. Returns false when the attempt no longer waits (nothing changes then).
  @discardableResult
  func resolveWaiting(
    step id: String,
    attempt: Int,
    with result: BuiltinExecutor.Result,
    failedStatus: StepStatus = .failed,
    in transaction: inout RunTransaction
  ) async throws -> Bool {
    let now = transaction.now
    var status = StepStatus.completed
    var output = ""
    var error = ""
    var errorClass = ""
    switch result {
    case .completed(let value):
      output = value.jsonText
    case .failed(let failure):
      status = failedStatus
      error = failure.json.jsonText
      errorClass = failure.errorClass.rawValue
    case .wait, .awaitSignal, .startChild, .fanOut:
      return false
    }
    let rows = try await transaction.connection.query(
      """
      UPDATE step_executions SET status = \(status.rawValue), output = NULLIF(\(output), '')::jsonb, error = NULLIF(\(error), '')::jsonb,
        error_class = NULLIF(\(errorClass), ''), finished_at = \(now), lease_token = NULL, lease_expires_at = NULL
      WHERE tenant = \(transaction.run.tenant) AND run_id = \(transaction.run.id) AND step_id = \(id) AND attempt = \(attempt) AND status = 'WAITING'
      RETURNING started_at
      """,
      logger: self.logger
    ).collect()
    guard let row = rows.first else { return false }
    let startedAt = try row.decode(Date?.self)
    transaction.noteStoredChange(step: id, attempt: attempt) { record in
      record.apply(result, now: now)
      if case .failed = result { record.status = failedStatus }
    }
    transaction.deleteTimers(step: id, attempt: attempt)
    let type = transaction.workflow.stepSpec(id)?.type.rawValue ?? ""
    switch result {
    case .completed(let value):
      transaction.record("STEP_COMPLETED", step: id, attempt: attempt, payload: ["output": value])
      self.metrics.stepFinished(.init(
        tenant: transaction.run.tenant, workflow: transaction.run.workflowName, stepID: id, type: type, status: .completed,
        startedAt: startedAt, finishedAt: now
      ))
    case .failed(let failure):
      self.metrics.stepFinished(.init(
        tenant: transaction.run.tenant, workflow: transaction.run.workflowName, stepID: id, type: type, status: failedStatus,
        errorClass: failure.errorClass.rawValue, startedAt: startedAt, finishedAt: now
      ))
      try await self.afterFailure(step: id, attempt: attempt, failure: failure, status: failedStatus, in: &transaction)
    case .wait, .awaitSignal, .startChild, .fanOut:
      break
    }
    return true
  }
}
