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
    /// When this attempt's claim started it.
    var startedAt: Date

    var key: StepKey { StepKey(run: RunKey(tenant: self.tenant, id: self.runID), step: self.stepID, attempt: self.attempt) }
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
      RETURNING s.tenant, s.run_id, s.step_id, s.attempt, s.step_type, s.lease_token, s.input::text, s.started_at
      """,
      logger: self.logger
    )
    var claimed: [ClaimedStep] = []
    for try await (tenant, runID, stepID, attempt, stepType, token, input, startedAt) in rows.decode((String, UUID, String, Int, String, UUID, String?, Date).self) {
      claimed.append(ClaimedStep(
        tenant: tenant, runID: runID, stepID: stepID, attempt: attempt, stepType: stepType, leaseToken: token,
        input: try input.map { try JSONValue(jsonText: $0) } ?? .object([:]), startedAt: startedAt
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

  /// Executes claimed steps, up to `parallelism` at a time, and records their outcomes together:
  /// one transaction for the whole batch (``recordBatch(_:)``), falling back to one transaction
  /// per step if the batch cannot be recorded.
  func execute(_ claimed: [ClaimedStep]) async throws {
    let results = await withTaskGroup(of: (ClaimedStep, BuiltinExecutor.Result).self) { group in
      var next = claimed.makeIterator()
      func startNext() -> Bool {
        guard let step = next.next() else { return false }
        group.addTask { (step, await self.executor.execute(step, now: self.now())) }
        return true
      }
      for _ in 0..<self.configuration.parallelism where !startNext() { break }
      var results: [(ClaimedStep, BuiltinExecutor.Result)] = []
      results.reserveCapacity(claimed.count)
      while let result = await group.next() {
        results.append(result)
        _ = startNext()
      }
      return results
    }
    do {
      try await self.recordBatch(results)
    } catch {
      self.logger.warning("recording a batch of step outcomes failed; recording them one by one", metadata: [
        "steps": "\(results.count)", "error": "\(String(reflecting: error))",
      ])
      for (step, result) in results {
        do {
          try await self.recordAttempt(step, result: result)
        } catch {
          // The lease expires and another executor retries the attempt: at-least-once execution.
          self.logger.error("recording a step outcome failed", metadata: ["run_id": "\(step.runID)", "step": "\(step.stepID)", "error": "\(String(reflecting: error))"])
        }
      }
    }
  }

  /// Records the outcomes of many claimed attempts in one transaction: the runs are locked in id
  /// order (so concurrent batches cannot deadlock), their steps read in one query, the attempts
  /// updated in one fenced statement, each run advanced in memory, and all the writes made with
  /// one statement per kind of change. Attempts whose lease was lost are left alone (fenced).
  func recordBatch(_ results: [(ClaimedStep, BuiltinExecutor.Result)]) async throws {
    guard !results.isEmpty else { return }
    let now = self.now()
    let (finished, stepOutcomes, ready, timers) = try await self.engine.withTransaction { connection in
      var runKeys: [RunKey: Int] = [:]
      for (step, _) in results where runKeys[RunKey(tenant: step.tenant, id: step.runID)] == nil {
        runKeys[RunKey(tenant: step.tenant, id: step.runID)] = runKeys.count
      }
      let tenants = runKeys.keys.map(\.tenant)
      let ids = runKeys.keys.map(\.id)
      var runs: [RunKey: RunRecord] = [:]
      let runRows = try await connection.query(
        """
        SELECT \(unescaped: RunRecord.columnsOfR)
        FROM runs r JOIN unnest(\(tenants)::text[], \(ids)::uuid[]) AS k(tenant, id) ON r.tenant = k.tenant AND r.id = k.id
        ORDER BY r.id FOR UPDATE OF r
        """,
        logger: self.logger
      )
      for try await row in runRows {
        let run = try RunRecord(row: row)
        runs[RunKey(tenant: run.tenant, id: run.id)] = run
      }
      var steps: [RunKey: [StepRecord]] = [:]
      let stepRows = try await connection.query(
        """
        SELECT s.tenant, s.run_id, \(unescaped: StepRecord.columnsOfS)
        FROM step_executions s JOIN unnest(\(tenants)::text[], \(ids)::uuid[]) AS k(tenant, id) ON s.tenant = k.tenant AND s.run_id = k.id
        """,
        logger: self.logger
      )
      for try await row in stepRows {
        let columns = row.makeRandomAccess()
        let key = RunKey(tenant: try columns[0].decode(String.self), id: try columns[1].decode(UUID.self))
        steps[key, default: []].append(try StepRecord(row: row, offset: 2))
      }
      let accepted = try await self.fencedUpdates(results, now: now, on: connection)
      var transactions: [RunTransaction] = []
      var indexOfRun: [RunKey: Int] = [:]
      var stepOutcomes: [WorkflowMetrics.StepOutcome] = []
      for (step, result) in results {
        let key = step.key.run
        guard accepted.contains(step.key), let run = runs[key] else { continue }
        if indexOfRun[key] == nil {
          let workflow = try await self.definitions.compiled(tenant: run.tenant, name: run.workflowName, version: run.workflowVersion, on: connection)
          indexOfRun[key] = transactions.count
          transactions.append(RunTransaction(connection: connection, logger: self.logger, run: run, workflow: workflow, now: now, steps: steps[key] ?? []))
        }
        let index = indexOfRun[key]!
        transactions[index].noteStoredChange(step: step.stepID, attempt: step.attempt) { record in
          record.apply(result, now: now)
        }
        try await self.applyAccepted(result, to: step, in: &transactions[index])
        if let outcome = result.stepOutcome(step, workflow: run.workflowName, now: now) { stepOutcomes.append(outcome) }
      }
      for index in transactions.indices { try await transactions[index].advance() }
      try await RunTransaction.flush(&transactions, on: connection, logger: self.logger)
      let finished = transactions.compactMap { transaction in transaction.finishedStatus.map { (transaction.run, $0) } }
      return (finished, stepOutcomes, transactions.contains { $0.scheduledReadyWork }, transactions.contains { $0.createsTimers })
    }
    if ready { self.readyWorkCommitted() }
    // After the commit: metrics, and the timer loop learns of new sleeps.
    for outcome in stepOutcomes { self.metrics.stepFinished(outcome) }
    for (run, status) in finished { self.metrics.runFinished(run, status: status) }
    if timers || results.contains(where: \.1.armsTimers) { self.timerWakeup.signal() }
  }

  /// The attempts of `results` still RUNNING under their lease token (fencing), updated with
  /// their outcome in one statement; returns those that were (the others lost their lease, or
  /// the run was cancelled or finished).
  private func fencedUpdates(_ results: [(ClaimedStep, BuiltinExecutor.Result)], now: Date, on connection: PostgresConnection) async throws -> Set<StepKey> {
    var tenants: [String] = [], runs: [UUID] = [], stepIDs: [String] = [], attempts: [Int] = [], tokens: [UUID] = []
    var statuses: [String] = [], outputs: [String] = [], errors: [String] = [], classes: [String] = [], finished: [Bool] = []
    for (step, result) in results {
      tenants.append(step.tenant)
      runs.append(step.runID)
      stepIDs.append(step.stepID)
      attempts.append(step.attempt)
      tokens.append(step.leaseToken)
      switch result {
      case .completed(let output):
        statuses.append(StepStatus.completed.rawValue); outputs.append(output.jsonText); errors.append(""); classes.append(""); finished.append(true)
      case .failed(let failure):
        statuses.append(StepStatus.failed.rawValue); outputs.append(""); errors.append(failure.json.jsonText); classes.append(failure.errorClass.rawValue); finished.append(true)
      case .wait, .awaitSignal, .startChild, .fanOut:
        statuses.append(StepStatus.waiting.rawValue); outputs.append(""); errors.append(""); classes.append(""); finished.append(false)
      }
    }
    let rows = try await connection.query(
      """
      UPDATE step_executions s
      SET status = u.status, output = NULLIF(u.output, '')::jsonb, error = NULLIF(u.error, '')::jsonb,
          error_class = NULLIF(u.error_class, ''), finished_at = CASE WHEN u.finished THEN \(now)::timestamptz END,
          lease_token = NULL, lease_expires_at = NULL
      FROM unnest(\(tenants)::text[], \(runs)::uuid[], \(stepIDs)::text[], \(attempts)::bigint[], \(tokens)::uuid[], \(statuses)::text[],
        \(outputs)::text[], \(errors)::text[], \(classes)::text[], \(finished)::bool[])
        AS u(tenant, run_id, step_id, attempt, token, status, output, error, error_class, finished)
      WHERE s.tenant = u.tenant AND s.run_id = u.run_id AND s.step_id = u.step_id AND s.attempt = u.attempt
        AND s.status = 'RUNNING' AND s.lease_token = u.token
      RETURNING s.tenant, s.run_id, s.step_id, s.attempt
      """,
      logger: self.logger
    )
    var accepted: Set<StepKey> = []
    for try await (tenant, run, step, attempt) in rows.decode((String, UUID, String, Int).self) {
      accepted.insert(StepKey(run: RunKey(tenant: tenant, id: run), step: step, attempt: attempt))
    }
    return accepted
  }

  /// Records an attempt's outcome if this replica still holds its lease; then advances the run.
  /// Returns false when the attempt was fenced off (lease lost, run cancelled or finished).
  @discardableResult
  func recordAttempt(_ step: ClaimedStep, result: BuiltinExecutor.Result) async throws -> Bool {
    let now = self.now()
    let outcome: (accepted: Bool, run: RunRecord?, finished: RunStatus?, step: WorkflowMetrics.StepOutcome?, ready: Bool) = try await self.engine.withTransaction { connection in
      guard let run = try await RunTransaction.lockRun(tenant: step.tenant, id: step.runID, on: connection, logger: self.logger) else {
        return (false, nil, nil, nil, false)
      }
      let workflow = try await self.definitions.compiled(tenant: run.tenant, name: run.workflowName, version: run.workflowVersion, on: connection)
      var transaction = RunTransaction(connection: connection, logger: self.logger, run: run, workflow: workflow, now: now)
      let accepted = try await self.applyResult(result, to: step, in: &transaction)
      guard accepted else { return (false, nil, nil, nil, false) }
      try await transaction.advance()
      try await transaction.flush()
      return (true, transaction.run, transaction.finishedStatus, result.stepOutcome(step, workflow: run.workflowName, now: now), transaction.scheduledReadyWork)
    }
    if outcome.ready { self.readyWorkCommitted() }
    if outcome.accepted, result.armsTimers { self.timerWakeup.signal() }
    if outcome.accepted, let run = outcome.run {
      if let stepOutcome = outcome.step { self.metrics.stepFinished(stepOutcome) }
      if let finished = outcome.finished { self.metrics.runFinished(run, status: finished) }
    }
    return outcome.accepted
  }

  /// Writes the attempt's row (fenced by its lease token) and the consequences of its result.
  func applyResult(_ result: BuiltinExecutor.Result, to step: ClaimedStep, in transaction: inout RunTransaction) async throws -> Bool {
    let now = transaction.now
    let accepted = try await self.fencedUpdates([(step, result)], now: now, on: transaction.connection)
      .contains(step.key)
    guard accepted else { return false }
    transaction.noteStoredChange(step: step.stepID, attempt: step.attempt) { $0.apply(result, now: now) }
    try await self.applyAccepted(result, to: step, in: &transaction)
    return true
  }

  /// The consequences of an accepted attempt outcome (its row is already updated): events,
  /// timers of a wait, the retry decision of a failure.
  func applyAccepted(_ result: BuiltinExecutor.Result, to step: ClaimedStep, in transaction: inout RunTransaction) async throws {
    let now = transaction.now
    switch result {
    case .completed(let output):
      transaction.record("STEP_COMPLETED", step: step.stepID, attempt: step.attempt, payload: ["output": output])
    case .wait(let until):
      transaction.addTimer(kind: "sleep", fireAt: until, step: step.stepID, attempt: step.attempt)
      if let timeout = transaction.workflow.stepSpec(step.stepID)?.timeout {
        transaction.addTimer(kind: "step_timeout", fireAt: now.addingTimeInterval(timeout.seconds), step: step.stepID, attempt: step.attempt)
      }
      transaction.record("TIMER_STARTED", step: step.stepID, attempt: step.attempt, payload: ["fire_at": .string(Timestamps.format(until))])
    case .startChild(let workflow, let version, let input):
      try await self.startChild(step: step.stepID, attempt: step.attempt, workflow: workflow, version: version, input: input, in: &transaction)
    case .fanOut:
      // The iterations start in this transaction's advance (RunTransaction+ForEach).
      transaction.record("STEP_STARTED", step: step.stepID, attempt: step.attempt, payload: [
        "foreach_items": .number(Double(step.input["items"].flatMap { if case .array(let items) = $0 { items.count } else { nil } } ?? 0)),
      ])
      if let timeout = transaction.workflow.steps[step.stepID]?.timeout {
        transaction.addTimer(kind: "step_timeout", fireAt: now.addingTimeInterval(timeout.seconds), step: step.stepID, attempt: step.attempt)
      }
    case .awaitSignal(let name, let timeoutAt):
      try await self.beginSignalWait(step: step.stepID, attempt: step.attempt, name: name, timeoutAt: timeoutAt, in: &transaction)
    case .failed(let failure):
      try await self.afterFailure(step: step.stepID, attempt: step.attempt, failure: failure, status: .failed, in: &transaction)
    }
  }

  /// After a failed attempt: schedules the next one per the retry policy, or leaves the step
  /// failed (the planner then fails the run unless the step allows failure).
  func afterFailure(step id: String, attempt: Int, failure: StepFailure, status: StepStatus, in transaction: inout RunTransaction) async throws {
    let eventType = status == .timedOut ? "STEP_TIMED_OUT" : "STEP_FAILED"
    let steps = try await transaction.steps()
    let snapshots = steps.snapshots
    let failuresOfClass = snapshots[id]?.failuresByClass[failure.errorClass] ?? 1
    let policy = transaction.workflow.stepSpec(id)?.retryPolicy ?? .platformDefault
    switch policy.decide(attempt: attempt, failure: failure, failuresOfClass: failuresOfClass, random: Double.random(in: 0..<1)) {
    case .retry(let delay):
      let visibleAt = transaction.now.addingTimeInterval(delay.seconds)
      let input = steps.first { $0.stepID == id && $0.attempt == attempt }?.input
      transaction.record(eventType, step: id, attempt: attempt, payload: ["error": failure.json, "will_retry": true])
      let foreachAttempt = steps.first { $0.stepID == id && $0.attempt == attempt }?.foreachAttempt
      transaction.insertStep(id, attempt: attempt + 1, status: .ready, input: input, visibleAt: visibleAt, foreachAttempt: foreachAttempt)
      transaction.record("STEP_RETRY_SCHEDULED", step: id, attempt: attempt + 1, payload: [
        "delay_ms": .number((delay.seconds * 1000).rounded()), "visible_at": .string(Timestamps.format(visibleAt)),
      ])
    case .giveUp(let reason):
      transaction.record(eventType, step: id, attempt: attempt, payload: ["error": failure.json, "will_retry": false, "reason": .string(reason)])
    }
  }

}

extension BuiltinExecutor.Result {
  /// The attempt waits: it may have created timers the timer loop must learn of.
  var armsTimers: Bool {
    switch self {
    case .wait, .awaitSignal, .startChild: true
    case .completed, .failed, .fanOut: false
    }
  }

  var stepStatus: StepStatus? {
    switch self {
    case .completed: .completed
    case .failed: .failed
    case .wait, .awaitSignal, .startChild, .fanOut: nil
    }
  }

  /// The finished attempt for metrics (nil while it waits).
  func stepOutcome(_ step: WorkflowEngine.ClaimedStep, workflow: String, now: Date) -> WorkflowMetrics.StepOutcome? {
    guard let status = self.stepStatus else { return nil }
    var errorClass: String?
    if case .failed(let failure) = self { errorClass = failure.errorClass.rawValue }
    return WorkflowMetrics.StepOutcome(
      tenant: step.tenant, workflow: workflow, stepID: step.stepID, type: step.stepType, status: status, errorClass: errorClass,
      startedAt: step.startedAt, finishedAt: now
    )
  }
}
