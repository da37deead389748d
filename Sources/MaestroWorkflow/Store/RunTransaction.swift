import Foundation
import Logging
import MaestroCore
import MaestroWorkflowModel
import PostgresNIO

/// The work on one run inside one database transaction, with the run's row locked
/// (`SELECT … FOR UPDATE`) so that concurrent completions of its steps serialise. Everything
/// a transition writes — step rows, events with gapless sequence numbers, the run row, timers —
/// goes through here and commits together: exactly-once state transitions.
struct RunTransaction {
  let connection: PostgresConnection
  let logger: Logger
  var run: RunRecord
  let workflow: CompiledWorkflow
  let now: Date
  private(set) var events: [PendingEvent] = []
  /// Whether a READY step was written (the commit must wake executors).
  private(set) var scheduledReadyWork = false
  /// Run outcome recorded in this transaction, for metrics after commit.
  private(set) var finishedStatus: RunStatus?

  struct PendingEvent {
    var type: String
    var stepID: String?
    var attempt: Int?
    var payload: JSONValue
  }

  init(connection: PostgresConnection, logger: Logger, run: RunRecord, workflow: CompiledWorkflow, now: Date) {
    self.connection = connection
    self.logger = logger
    self.run = run
    self.workflow = workflow
    self.now = now
  }

  /// Locks and reads a run (any tenant: the caller's connection decides what it can see).
  static func lockRun(tenant: String, id: UUID, on connection: PostgresConnection, logger: Logger) async throws -> RunRecord? {
    let rows = try await connection.query(
      "SELECT \(unescaped: RunRecord.columns) FROM runs WHERE tenant = \(tenant) AND id = \(id) FOR UPDATE",
      logger: logger
    )
    for try await row in rows { return try RunRecord(row: row) }
    return nil
  }

  mutating func record(_ type: String, step: String? = nil, attempt: Int? = nil, payload: JSONValue = .object([:])) {
    self.events.append(PendingEvent(type: type, stepID: step, attempt: attempt, payload: payload))
  }

  /// Every attempt of every step of the run.
  func loadSteps() async throws -> [StepRecord] {
    let rows = try await self.connection.query(
      "SELECT \(unescaped: StepRecord.columns) FROM step_executions WHERE tenant = \(self.run.tenant) AND run_id = \(self.run.id)",
      logger: self.logger
    )
    var records: [StepRecord] = []
    for try await row in rows { records.append(try StepRecord(row: row)) }
    return records
  }

  /// Plans from the current step states and applies the plan. `knownSteps` skips reading
  /// them when the caller already knows them (a run that was just created has none).
  mutating func advance(knownSteps: [String: StepSnapshot]? = nil) async throws {
    guard !self.run.status.isTerminal else { return }
    let snapshots: [String: StepSnapshot]
    if let knownSteps {
      snapshots = knownSteps
    } else {
      snapshots = try await self.loadSteps().snapshots
    }
    var context = ExpressionContext(input: self.run.input, run: self.run.expressionValue, now: self.now)
    context.params = .object([:])
    let plan = RunPlanner(workflow: self.workflow).plan(snapshots: snapshots, context: context)
    for action in plan.actions {
      switch action {
      case .schedule(let id, let input):
        let attempt = (snapshots[id]?.attempt ?? 0) + 1
        try await self.insertStep(id, attempt: attempt, status: .ready, input: input, visibleAt: self.now)
        self.record("STEP_SCHEDULED", step: id, attempt: attempt, payload: ["input": input])
      case .skip(let id, let reason):
        try await self.insertStep(id, attempt: 1, status: .skipped, input: nil, visibleAt: nil, finished: true)
        self.record("STEP_SKIPPED", step: id, attempt: 1, payload: ["reason": .string(reason)])
      case .fail(let id, let failure):
        try await self.insertStep(id, attempt: 1, status: .failed, input: nil, visibleAt: nil, error: failure, finished: true)
        self.record("STEP_FAILED", step: id, attempt: 1, payload: ["error": failure.json])
      }
    }
    switch plan.outcome {
    case .running:
      break
    case .completed(let output):
      try await self.finish(.completed, output: output, error: nil)
    case .failed(let stepID, let failure):
      var error = failure.json
      if let stepID, case .object(var members) = error {
        members["step_id"] = .string(stepID)
        error = .object(members)
      }
      try await self.finish(.failed, output: nil, error: error)
    }
  }

  /// Ends the run: cancels whatever is still in flight, drops its timers, records the outcome.
  mutating func finish(_ status: RunStatus, output: JSONValue?, error: JSONValue?) async throws {
    if status != .completed {
      let rows = try await self.connection.query(
        """
        UPDATE step_executions SET status = 'CANCELLED', finished_at = \(self.now), lease_token = NULL,
          lease_owner = NULL, lease_expires_at = NULL, error_class = 'cancelled'
        WHERE tenant = \(self.run.tenant) AND run_id = \(self.run.id) AND status IN ('READY', 'RUNNING', 'WAITING')
        RETURNING step_id, attempt
        """,
        logger: self.logger
      )
      for try await (stepID, attempt) in rows.decode((String, Int).self) {
        self.record("STEP_CANCELLED", step: stepID, attempt: attempt)
      }
    }
    _ = try await self.connection.query(
      "DELETE FROM timers WHERE tenant = \(self.run.tenant) AND run_id = \(self.run.id)",
      logger: self.logger
    ).collect()
    self.run.status = status
    self.run.output = output
    self.run.error = error
    self.run.finishedAt = self.now
    if let slaDeadline = self.run.slaDeadline, self.run.slaMet == nil {
      self.run.slaMet = status == .completed && self.now <= slaDeadline
      if self.now > slaDeadline {
        // Finished late before the SLA timer fired: the breach is still recorded.
        self.record("RUN_SLA_MISSED", payload: ["sla_deadline": .string(Timestamps.format(slaDeadline))])
      }
    }
    let eventType: String =
      switch status {
      case .completed: "RUN_COMPLETED"
      case .cancelled: "RUN_CANCELLED"
      case .timedOut: "RUN_TIMED_OUT"
      default: "RUN_FAILED"
      }
    var payload: [String: JSONValue] = [:]
    if let output { payload["output"] = output }
    if let error { payload["error"] = error }
    if let slaMet = self.run.slaMet { payload["sla_met"] = .bool(slaMet) }
    self.record(eventType, payload: .object(payload))
    self.finishedStatus = status
  }

  mutating func insertStep(
    _ stepID: String,
    attempt: Int,
    status: StepStatus,
    input: JSONValue?,
    visibleAt: Date?,
    error: StepFailure? = nil,
    finished: Bool = false
  ) async throws {
    let stepType = self.workflow.steps[stepID]?.type.rawValue ?? "unknown"
    _ = try await self.connection.query(
      """
      INSERT INTO step_executions (tenant, run_id, step_id, attempt, step_type, status, input, ready_at,
        visible_at, error, error_class, finished_at)
      VALUES (\(self.run.tenant), \(self.run.id), \(stepID), \(attempt), \(stepType), \(status.rawValue),
        \(input?.jsonText)::jsonb, \(status == .ready ? self.now : nil), \(visibleAt), \(error?.json.jsonText)::jsonb,
        \(error?.errorClass.rawValue), \(finished ? self.now : nil))
      """,
      logger: self.logger
    ).collect()
    if status == .ready { self.scheduledReadyWork = true }
  }

  /// Drops the timers of one step attempt (it finished, or its timer fired).
  func deleteTimers(step: String, attempt: Int) async throws {
    _ = try await self.connection.query(
      "DELETE FROM timers WHERE tenant = \(self.run.tenant) AND run_id = \(self.run.id) AND step_id = \(step) AND attempt = \(attempt)",
      logger: self.logger
    ).collect()
  }

  /// Writes the buffered events with gapless sequence numbers and the run row; then notifies
  /// executors if work became ready. Call last, once per transaction.
  mutating func flush() async throws {
    var sequence = self.run.lastEventSequence
    if !self.events.isEmpty {
      var sequences: [Int64] = []
      var types: [String] = []
      var steps: [String] = []
      var attempts: [Int] = []
      var payloads: [String] = []
      for event in self.events {
        sequence += 1
        sequences.append(sequence)
        types.append(event.type)
        steps.append(event.stepID ?? "")
        attempts.append(event.attempt ?? 0)
        payloads.append(event.payload.jsonText)
      }
      _ = try await self.connection.query(
        """
        INSERT INTO run_events (tenant, run_id, seq, type, step_id, attempt, payload, occurred_at)
        SELECT \(self.run.tenant), \(self.run.id), e.seq, e.type, NULLIF(e.step, ''), NULLIF(e.attempt, 0), e.payload::jsonb, \(self.now)
        FROM unnest(\(sequences)::bigint[], \(types)::text[], \(steps)::text[], \(attempts)::bigint[], \(payloads)::text[])
          AS e(seq, type, step, attempt, payload)
        """,
        logger: self.logger
      ).collect()
      self.events = []
    }
    self.run.lastEventSequence = sequence
    _ = try await self.connection.query(
      """
      UPDATE runs SET status = \(self.run.status.rawValue), output = \(self.run.output?.jsonText)::jsonb,
        error = \(self.run.error?.jsonText)::jsonb, finished_at = \(self.run.finishedAt), sla_met = \(self.run.slaMet),
        last_event_seq = \(sequence), run_attempt = \(self.run.runAttempt), started_at = \(self.run.startedAt),
        updated_at = \(self.now)
      WHERE tenant = \(self.run.tenant) AND id = \(self.run.id)
      """,
      logger: self.logger
    ).collect()
    if self.scheduledReadyWork {
      _ = try await self.connection.query("SELECT pg_notify(\(EngineChannel.ready), '')", logger: self.logger).collect()
      self.scheduledReadyWork = false
    }
  }
}

/// LISTEN/NOTIFY channel names.
enum EngineChannel {
  /// Steps became READY.
  static let ready = "maestro_workflow_ready"
}
