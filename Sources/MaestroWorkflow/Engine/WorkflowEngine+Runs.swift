import Foundation
import Logging
import MaestroCore
import MaestroKit
import MaestroWorkflowModel
import PostgresNIO

extension WorkflowEngine {
  /// A run with every attempt of its steps. Another tenant's run is NOT_FOUND.
  func getRun(tenant: String, id: UUID) async throws -> (RunRecord, [StepRecord], CompiledWorkflow?) {
    try await self.inTenant(tenant) { connection in
      let rows = try await connection.query("SELECT \(unescaped: RunRecord.columns) FROM runs WHERE tenant = \(tenant) AND id = \(id)", logger: self.logger)
      var found: RunRecord?
      for try await row in rows { found = try RunRecord(row: row) }
      guard let run = found else { throw MaestroError.notFound("run \(id.uuidString.lowercased()) not found") }
      let stepRows = try await connection.query(
        "SELECT \(unescaped: StepRecord.columns) FROM step_executions WHERE tenant = \(tenant) AND run_id = \(id) ORDER BY created_at, step_id, attempt",
        logger: self.logger
      )
      var steps: [StepRecord] = []
      for try await row in stepRows { steps.append(try StepRecord(row: row)) }
      let workflow = try? await self.definitions.compiled(tenant: tenant, name: run.workflowName, version: run.workflowVersion, on: connection)
      return (run, steps, workflow)
    }
  }

  struct RunFilter: Sendable {
    var workflowName: String?
    var statuses: [RunStatus] = []
    var createdAfter: Date?
    var createdBefore: Date?
    var parentRunID: UUID?
    /// Runs carrying all of these labels.
    var labels: [String: String] = [:]
  }

  /// Runs newest first, keyset-paginated on (created_at, id).
  func listRuns(tenant: String, filter: RunFilter, pageSize: Int, pageToken: String) async throws -> ([RunRecord], next: String) {
    let cursor = try Paging.decode(pageToken)
    let cursorTime = cursor?["t"]?.stringValue.flatMap(Timestamps.parse)
    let cursorID = cursor?["i"]?.stringValue.flatMap(UUID.init(uuidString:))
    if cursor != nil, cursorTime == nil || cursorID == nil {
      throw MaestroError.invalidArgument(field: "page_token", "is not a token returned by a previous page")
    }
    return try await self.inTenant(tenant) { connection in
      let statuses = filter.statuses.map(\.rawValue)
      let rows = try await connection.query(
        """
        SELECT \(unescaped: RunRecord.columns) FROM runs
        WHERE tenant = \(tenant)
          AND (\(filter.workflowName)::text IS NULL OR workflow_name = \(filter.workflowName))
          AND (cardinality(\(statuses)::text[]) = 0 OR status = ANY(\(statuses)::text[]))
          AND (\(filter.createdAfter)::timestamptz IS NULL OR created_at >= \(filter.createdAfter))
          AND (\(filter.createdBefore)::timestamptz IS NULL OR created_at < \(filter.createdBefore))
          AND (\(filter.parentRunID)::uuid IS NULL OR parent_run_id = \(filter.parentRunID))
          AND labels @> \(JSONValue.object(filter.labels.mapValues(JSONValue.string)).jsonText)::jsonb
          AND (\(cursorTime)::timestamptz IS NULL OR (created_at, id) < (\(cursorTime), \(cursorID)))
        ORDER BY created_at DESC, id DESC
        LIMIT \(pageSize + 1)
        """,
        logger: self.logger
      )
      var runs: [RunRecord] = []
      for try await row in rows { runs.append(try RunRecord(row: row)) }
      var next = ""
      if runs.count > pageSize {
        runs.removeLast()
        let last = runs[runs.count - 1]
        next = Paging.encode(["t": .string(Timestamps.format(last.createdAt)), "i": .string(last.id.uuidString)])
      }
      return (runs, next)
    }
  }

  /// A page of a run's events after `afterSequence`.
  func history(tenant: String, runID: UUID, afterSequence: Int64, pageSize: Int, pageToken: String) async throws -> ([EventRecord], next: String) {
    var after = afterSequence
    if let cursor = try Paging.decode(pageToken) {
      guard let sequence = cursor["s"]?.numberValue else {
        throw MaestroError.invalidArgument(field: "page_token", "is not a token returned by a previous page")
      }
      after = max(after, Int64(sequence))
    }
    let bound = after
    return try await self.inTenant(tenant) { connection in
      let exists = try await connection.query("SELECT 1 FROM runs WHERE tenant = \(tenant) AND id = \(runID)", logger: self.logger).collect()
      guard !exists.isEmpty else { throw MaestroError.notFound("run \(runID.uuidString.lowercased()) not found") }
      var events = try await self.events(tenant: tenant, runID: runID, after: bound, limit: pageSize + 1, on: connection)
      var next = ""
      if events.count > pageSize {
        events.removeLast()
        next = Paging.encode(["s": .number(Double(events[events.count - 1].sequence))])
      }
      return (events, next)
    }
  }

  func events(tenant: String, runID: UUID, after: Int64, limit: Int, on connection: PostgresConnection) async throws -> [EventRecord] {
    let rows = try await connection.query(
      """
      SELECT seq, type, occurred_at, step_id, attempt, payload::text FROM run_events
      WHERE tenant = \(tenant) AND run_id = \(runID) AND seq > \(after) ORDER BY seq LIMIT \(limit)
      """,
      logger: self.logger
    )
    var events: [EventRecord] = []
    for try await (sequence, type, occurredAt, stepID, attempt, payload) in rows.decode((Int64, String, Date, String?, Int?, String).self) {
      events.append(EventRecord(sequence: sequence, type: type, occurredAt: occurredAt, stepID: stepID, attempt: attempt, payload: try JSONValue(jsonText: payload)))
    }
    return events
  }

  /// Events after `after` plus the run's status (for WatchRun).
  func watchBatch(tenant: String, runID: UUID, after: Int64) async throws -> ([EventRecord], RunStatus) {
    try await self.inTenant(tenant) { connection in
      let rows = try await connection.query("SELECT status FROM runs WHERE tenant = \(tenant) AND id = \(runID)", logger: self.logger)
      var status: RunStatus?
      for try await value in rows.decode(String.self) { status = RunStatus(rawValue: value) }
      guard let status else { throw MaestroError.notFound("run \(runID.uuidString.lowercased()) not found") }
      return (try await self.events(tenant: tenant, runID: runID, after: after, limit: 500, on: connection), status)
    }
  }

  /// Cancels a run: in-flight steps are abandoned (their late completions are fenced off),
  /// timers dropped, the run ends CANCELLED. Cancelling a cancelled run is a no-op.
  func cancelRun(tenant: String, id: UUID, reason: String, by subject: String?) async throws -> RunRecord {
    let run: RunRecord = try await self.inTenant(tenant) { connection in
      guard let run = try await RunTransaction.lockRun(tenant: tenant, id: id, on: connection, logger: self.logger) else {
        throw MaestroError.notFound("run \(id.uuidString.lowercased()) not found")
      }
      if run.status == .cancelled { return run }
      guard !run.status.isTerminal else {
        throw MaestroError.failedPrecondition("run is already \(run.status.rawValue)")
      }
      let workflow = try await self.definitions.compiled(tenant: tenant, name: run.workflowName, version: run.workflowVersion, on: connection)
      var transaction = RunTransaction(connection: connection, logger: self.logger, run: run, workflow: workflow, now: self.now())
      transaction.record("RUN_CANCEL_REQUESTED", payload: ["reason": .string(reason), "by": .string(subject ?? "")])
      try await transaction.finish(.cancelled, output: nil, error: StepFailure(reason.isEmpty ? "cancelled" : reason, errorClass: .cancelled).json)
      try await transaction.flush()
      return transaction.run
    }
    // Children (cancel_run) or a parent (child_done) may have a timer due now.
    self.timerWakeup.signal()
    self.metrics.runFinished(run, status: .cancelled)
    return run
  }

  /// Restarts a FAILED, TIMED_OUT or CANCELLED run from its unfinished steps: completed and
  /// skipped steps keep their outputs; failed, timed-out and cancelled ones get a new attempt.
  func retryRun(tenant: String, id: UUID, reason: String) async throws -> RunRecord {
    let (run, ready): (RunRecord, Bool) = try await self.inTenant(tenant) { connection in
      guard let run = try await RunTransaction.lockRun(tenant: tenant, id: id, on: connection, logger: self.logger) else {
        throw MaestroError.notFound("run \(id.uuidString.lowercased()) not found")
      }
      guard [.failed, .timedOut, .cancelled].contains(run.status) else {
        throw MaestroError.failedPrecondition("only FAILED, TIMED_OUT or CANCELLED runs can be retried; this one is \(run.status.rawValue)")
      }
      let workflow = try await self.definitions.compiled(tenant: tenant, name: run.workflowName, version: run.workflowVersion, on: connection)
      let now = self.now()
      var transaction = RunTransaction(connection: connection, logger: self.logger, run: run, workflow: workflow, now: now)
      transaction.run.status = .running
      transaction.run.runAttempt += 1
      transaction.run.error = nil
      transaction.run.finishedAt = nil
      transaction.record("RUN_RETRIED", payload: ["reason": .string(reason), "run_attempt": .number(Double(transaction.run.runAttempt))])
      let snapshots = try await transaction.steps().snapshots
      for id in workflow.order {
        guard let snapshot = snapshots[id], [.failed, .timedOut, .cancelled].contains(snapshot.status) else { continue }
        // The retried step is re-planned from its dependencies' outputs, as a new attempt.
        let input = RunPlanner(workflow: workflow).plan(
          snapshots: snapshots.filter { $0.key != id }, context: ExpressionContext(input: run.input, run: transaction.run.expressionValue, now: now)
        ).actions.compactMap { action -> JSONValue? in
          if case .schedule(id, let input) = action { return input } else { return nil }
        }.first
        transaction.insertStep(id, attempt: snapshot.attempt + 1, status: .ready, input: input ?? .object([:]), visibleAt: now)
        transaction.record("STEP_SCHEDULED", step: id, attempt: snapshot.attempt + 1, payload: ["reason": "run retried"])
      }
      if let timeout = workflow.runTimeout {
        let deadline = now.addingTimeInterval(timeout.seconds)
        transaction.addTimer(kind: "run_timeout", fireAt: deadline)
      }
      try await transaction.advance()
      try await transaction.flush()
      return (transaction.run, transaction.scheduledReadyWork)
    }
    if ready { self.readyWorkCommitted() }
    return run
  }
}
