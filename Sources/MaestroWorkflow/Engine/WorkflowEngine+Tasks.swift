import Foundation
import Logging
import MaestroCore
import MaestroKit
import MaestroWorkflowModel
import PostgresNIO

/// External worker tasks (`task` steps): a READY task step sits in its tenant's task queue
/// (`task_queue` set, so engine executors never claim it) until a worker's PollTask claims it
/// under a lease. Heartbeats extend the lease; CompleteTask and FailTask record the outcome
/// in one transaction with the DAG advance, fenced by the attempt's lease token. A lease that
/// expires (the worker vanished, or stopped heartbeating) fails the attempt as a TIMEOUT, and
/// the retry policy decides what follows.
extension WorkflowEngine {
  /// Identifies one claimed task attempt: opaque to workers, unguessable (the lease token is
  /// random), and useless to another tenant (every call is checked against the caller's).
  struct TaskToken: Sendable, Hashable {
    var tenant: String
    var runID: UUID
    var stepID: String
    var attempt: Int
    var leaseToken: UUID

    var encoded: String {
      Base64URL.encode(Array("v1\n\(self.tenant)\n\(self.runID.uuidString.lowercased())\n\(self.stepID)\n\(self.attempt)\n\(self.leaseToken.uuidString.lowercased())".utf8))
    }

    init(tenant: String, runID: UUID, stepID: String, attempt: Int, leaseToken: UUID) {
      self.tenant = tenant
      self.runID = runID
      self.stepID = stepID
      self.attempt = attempt
      self.leaseToken = leaseToken
    }

    init(decoding text: String) throws {
      guard let bytes = Base64URL.decode(text), let plain = String(validating: bytes, as: UTF8.self) else {
        throw MaestroError(.invalidArgument, "task_token is not a task token", field: "task_token")
      }
      let parts = plain.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
      guard parts.count == 6, parts[0] == "v1", let run = UUID(uuidString: parts[2]), let attempt = Int(parts[4]), let lease = UUID(uuidString: parts[5]) else {
        throw MaestroError(.invalidArgument, "task_token is not a task token", field: "task_token")
      }
      self.init(tenant: parts[1], runID: run, stepID: parts[3], attempt: attempt, leaseToken: lease)
    }

    var claimed: ClaimedStep {
      ClaimedStep(tenant: self.tenant, runID: self.runID, stepID: self.stepID, attempt: self.attempt, stepType: StepType.task.rawValue,
        leaseToken: self.leaseToken, input: .object([:]), startedAt: Date())
    }
  }

  /// A task handed to a worker.
  struct ClaimedTask: Sendable {
    var token: TaskToken
    var taskQueue: String
    var workflowName: String
    var workflowVersion: Int
    var input: JSONValue
    var heartbeatTimeout: Duration?
    var deadline: Date?
    var scheduledAt: Date?
    var startedAt: Date
    var lastHeartbeatDetails: JSONValue?
  }

  /// How long a claim lasts before the next heartbeat (or, without heartbeats, the attempt's
  /// start-to-close timeout; without either, 5 minutes).
  static func taskLease(_ step: CompiledWorkflow.CompiledStep?) -> Duration {
    if let step, step.proto.hasHeartbeatTimeout, step.proto.heartbeatTimeout.swiftDuration > .zero { return step.proto.heartbeatTimeout.swiftDuration }
    return step?.timeout ?? .seconds(300)
  }

  /// Waits up to `wait` for a task of `tenant` on one of `queues` and claims it.
  func pollTask(tenant: String, queues: [String], worker: String, wait: Duration) async throws -> ClaimedTask? {
    let deadline = ContinuousClock.now + wait
    while true {
      if let task = try await self.claimTask(tenant: tenant, queues: queues, worker: worker) { return task }
      let remaining = deadline - ContinuousClock.now
      guard remaining > .zero, !Task.isCancelled, !self.taskWakeup.isClosed else { return nil }
      // Woken by a local enqueue or another replica's NOTIFY; the bound is a safety net.
      await self.taskWakeup.wait(timeout: min(remaining, self.configuration.idleWakeup))
    }
  }

  private func claimTask(tenant: String, queues: [String], worker: String) async throws -> ClaimedTask? {
    try await self.inTenant(tenant) { connection in
      let rows = try await connection.query(
        """
        UPDATE step_executions s
        SET status = 'RUNNING', lease_owner = \(worker), lease_token = gen_random_uuid(),
            lease_expires_at = now() + interval '30 seconds', started_at = now(), heartbeat_at = NULL
        FROM (SELECT tenant, run_id, step_id, attempt FROM step_executions
              WHERE tenant = \(tenant) AND status = 'READY' AND task_queue = ANY(\(queues)::text[]) AND visible_at <= now()
              ORDER BY visible_at LIMIT 1 FOR UPDATE SKIP LOCKED) c, runs r
        WHERE s.tenant = c.tenant AND s.run_id = c.run_id AND s.step_id = c.step_id AND s.attempt = c.attempt
          AND r.tenant = s.tenant AND r.id = s.run_id
        RETURNING s.run_id, s.step_id, s.attempt, s.task_queue, s.lease_token, s.input::text, s.ready_at, s.started_at,
          r.workflow_name, r.workflow_version
        """,
        logger: self.logger
      ).collect()
      guard let row = rows.first else { return nil }
      let (runID, stepID, attempt, queue, lease, input, readyAt, startedAt, name, version) =
        try row.decode((UUID, String, Int, String, UUID, String?, Date?, Date, String, Int).self)
      let workflow = try await self.definitions.compiled(tenant: tenant, name: name, version: version, on: connection)
      let step = workflow.stepSpec(stepID)
      let leaseDuration = Self.taskLease(step)
      let deadline = step?.timeout.map { startedAt.addingTimeInterval($0.seconds) }
      _ = try await connection.query(
        """
        UPDATE step_executions SET lease_expires_at = \(Self.leaseEnd(now: startedAt, lease: leaseDuration, deadline: deadline))
        WHERE tenant = \(tenant) AND run_id = \(runID) AND step_id = \(stepID) AND attempt = \(attempt)
        """,
        logger: self.logger
      ).collect()
      var details: JSONValue?
      if attempt > 1 {
        let previous = try await connection.query(
          """
          SELECT heartbeat_details::text FROM step_executions
          WHERE tenant = \(tenant) AND run_id = \(runID) AND step_id = \(stepID) AND attempt = \(attempt - 1)
          """,
          logger: self.logger
        ).collect()
        if let text = try previous.first?.decode(String?.self) { details = try JSONValue(jsonText: text) }
      }
      return ClaimedTask(
        token: TaskToken(tenant: tenant, runID: runID, stepID: stepID, attempt: attempt, leaseToken: lease), taskQueue: queue,
        workflowName: name, workflowVersion: version, input: try input.map { try JSONValue(jsonText: $0) } ?? .object([:]),
        heartbeatTimeout: step.flatMap { $0.proto.hasHeartbeatTimeout ? $0.proto.heartbeatTimeout.swiftDuration : nil },
        deadline: deadline, scheduledAt: readyAt, startedAt: startedAt, lastHeartbeatDetails: details
      )
    }
  }

  /// A lease never outlives the attempt's start-to-close deadline.
  static func leaseEnd(now: Date, lease: Duration, deadline: Date?) -> Date {
    let end = now.addingTimeInterval(lease.seconds)
    guard let deadline else { return end }
    return min(end, deadline)
  }

  /// Extends a task's lease; reports whether the run was cancelled (the worker should stop).
  func heartbeatTask(tenant: String, token: TaskToken, details: JSONValue?) async throws -> (cancelRequested: Bool, leaseExpiresAt: Date?) {
    guard token.tenant == tenant else { throw MaestroError.notFound("task not found") }
    return try await self.inTenant(tenant) { connection in
      let runs = try await connection.query(
        "SELECT workflow_name, workflow_version, status FROM runs WHERE tenant = \(tenant) AND id = \(token.runID)", logger: self.logger
      ).collect()
      guard let (name, version, status) = try runs.first?.decode((String, Int, String).self) else { throw MaestroError.notFound("task not found") }
      if status == RunStatus.cancelled.rawValue { return (true, nil) }
      let workflow = try await self.definitions.compiled(tenant: tenant, name: name, version: version, on: connection)
      let step = workflow.stepSpec(token.stepID)
      let rows = try await connection.query(
        """
        UPDATE step_executions
        SET lease_expires_at = least(now() + make_interval(secs => \(Self.taskLease(step).seconds)),
              CASE WHEN \(step?.timeout != nil) THEN started_at + make_interval(secs => \(step?.timeout?.seconds ?? 0)) END),
            heartbeat_at = now(), heartbeat_details = coalesce(\(details?.jsonText)::jsonb, heartbeat_details)
        WHERE tenant = \(tenant) AND run_id = \(token.runID) AND step_id = \(token.stepID) AND attempt = \(token.attempt)
          AND status = 'RUNNING' AND lease_token = \(token.leaseToken)
        RETURNING lease_expires_at
        """,
        logger: self.logger
      ).collect()
      if let row = rows.first { return (false, try row.decode(Date.self)) }
      try await self.checkTaskExists(token, on: connection)
      throw MaestroError.failedPrecondition("task attempt \(token.attempt) of step '\(token.stepID)' is no longer current (lease lost, retried, or finished)")
    }
  }

  /// Records a worker's result. Returns whether another attempt was scheduled (FailTask). A
  /// result for an attempt that is no longer current is refused with FAILED_PRECONDITION and
  /// recorded in the run's history (TASK_RESULT_REJECTED).
  @discardableResult
  func finishTask(tenant: String, token: TaskToken, result: BuiltinExecutor.Result) async throws -> Bool {
    guard token.tenant == tenant else { throw MaestroError.notFound("task not found") }
    let now = self.now()
    let outcome: (accepted: Bool, retried: Bool, ready: Bool, finished: (RunRecord, RunStatus)?, step: WorkflowMetrics.StepOutcome?) =
      try await self.inTenant(tenant) { connection in
        guard let run = try await RunTransaction.lockRun(tenant: tenant, id: token.runID, on: connection, logger: self.logger) else {
          throw MaestroError.notFound("task not found")
        }
        let workflow = try await self.definitions.compiled(tenant: tenant, name: run.workflowName, version: run.workflowVersion, on: connection)
        var transaction = RunTransaction(connection: connection, logger: self.logger, run: run, workflow: workflow, now: now)
        let claimed = token.claimed
        guard try await self.applyResult(result, to: claimed, in: &transaction) else {
          try await self.checkTaskExists(token, on: connection)
          transaction.record("TASK_RESULT_REJECTED", step: token.stepID, attempt: token.attempt, payload: [
            "reason": "the attempt is no longer current", "result": .string(result.stepStatus?.rawValue ?? "WAITING"),
          ])
          try await transaction.flush()
          return (false, false, false, nil, nil)
        }
        try await transaction.advance()
        try await transaction.flush()
        let retried = transaction.newSteps.contains { $0.record.stepID == token.stepID && $0.record.attempt == token.attempt + 1 }
        let started = try await connection.query(
          "SELECT started_at FROM step_executions WHERE tenant = \(tenant) AND run_id = \(token.runID) AND step_id = \(token.stepID) AND attempt = \(token.attempt)",
          logger: self.logger
        ).collect()
        var stepOutcome = result.stepOutcome(claimed, workflow: run.workflowName, now: now)
        stepOutcome?.startedAt = try started.first?.decode(Date?.self)
        return (true, retried, transaction.scheduledReadyWork, transaction.finishedStatus.map { (transaction.run, $0) }, stepOutcome)
      }
    guard outcome.accepted else {
      throw MaestroError.failedPrecondition("task attempt \(token.attempt) of step '\(token.stepID)' is no longer current (lease lost, retried, cancelled or already finished)")
    }
    if outcome.ready { self.readyWorkCommitted() }
    if let step = outcome.step { self.metrics.stepFinished(step) }
    if let (run, status) = outcome.finished {
      self.metrics.runFinished(run, status: status)
      self.timerWakeup.signal()  // a parent's child_done, or children's cancel_run
    }
    return outcome.retried
  }

  /// NOT_FOUND unless the token's attempt exists in the caller's tenant.
  private func checkTaskExists(_ token: TaskToken, on connection: PostgresConnection) async throws {
    let rows = try await connection.query(
      """
      SELECT 1 FROM step_executions WHERE tenant = \(token.tenant) AND run_id = \(token.runID) AND step_id = \(token.stepID)
        AND attempt = \(token.attempt) AND task_queue <> ''
      """,
      logger: self.logger
    ).collect()
    if rows.isEmpty { throw MaestroError.notFound("task not found") }
  }

  /// Fails task attempts whose lease expired (their worker vanished or stopped heartbeating)
  /// as TIMEOUT errors, each in its own transaction; the retry policy decides what follows.
  @discardableResult
  func expireTaskLeases(limit: Int = 100) async throws -> Int {
    let rows = try await self.engine.client.query(
      """
      SELECT tenant, run_id, step_id, attempt, lease_token FROM step_executions
      WHERE status = 'RUNNING' AND task_queue <> '' AND lease_expires_at < now()
      ORDER BY lease_expires_at LIMIT \(limit)
      """,
      logger: self.logger
    ).collect()
    var expired = 0
    for row in rows {
      let (tenant, runID, stepID, attempt, lease) = try row.decode((String, UUID, String, Int, UUID).self)
      let token = TaskToken(tenant: tenant, runID: runID, stepID: stepID, attempt: attempt, leaseToken: lease)
      let failure = StepFailure("task '\(stepID)' attempt \(attempt): the worker's lease expired (no heartbeat or result in time)", errorClass: .timeout, type: "task_lease_expired")
      let now = self.now()
      let outcome: (ready: Bool, finished: (RunRecord, RunStatus)?)? = try await self.engine.withTransaction { connection in
        guard let run = try await RunTransaction.lockRun(tenant: tenant, id: runID, on: connection, logger: self.logger) else { return nil }
        let workflow = try await self.definitions.compiled(tenant: tenant, name: run.workflowName, version: run.workflowVersion, on: connection)
        var transaction = RunTransaction(connection: connection, logger: self.logger, run: run, workflow: workflow, now: now)
        guard try await self.applyResult(.failed(failure), to: token.claimed, in: &transaction) else { return nil }
        try await transaction.advance()
        try await transaction.flush()
        return (transaction.scheduledReadyWork, transaction.finishedStatus.map { (transaction.run, $0) })
      }
      guard let outcome else { continue }
      expired += 1
      self.metrics.leasesExpired(1)
      if outcome.ready { self.readyWorkCommitted() }
      if let (run, status) = outcome.finished { self.metrics.runFinished(run, status: status) }
    }
    return expired
  }
}
