import Foundation
import Logging
import MaestroCore
import MaestroWorkflowModel
import PostgresNIO

/// The work on one run inside one database transaction, with the run's row locked
/// (`SELECT … FOR UPDATE`) so that concurrent changes to its steps serialise.
///
/// Reads happen when the transition needs them (the run's steps are loaded at most once, or
/// handed in by a batch that loaded many runs' steps in one query). Writes — new step rows,
/// cancellations, timers, events with gapless sequence numbers, the run row — are buffered and
/// written by ``flush()`` in a handful of set-based statements; ``flush(_:on:logger:)`` writes
/// the transitions of many runs with the same statements. Everything commits together:
/// exactly-once state transitions.
struct RunTransaction {
  /// The transaction's connection; nil for a new run, whose first transition is planned in
  /// memory (it reads nothing) and written by a start batch (``StartBatch``).
  private let openConnection: PostgresConnection?
  /// The transaction's connection (an existing run's transaction only).
  var connection: PostgresConnection {
    guard let connection = self.openConnection else { preconditionFailure("a new run's transition has no connection") }
    return connection
  }
  let logger: Logger
  var run: RunRecord
  let workflow: CompiledWorkflow
  let now: Date
  /// The run row is not in the database yet: StartRun builds the first transition in memory
  /// and writes it with the run in one statement (`start_runs`, batched with concurrent starts).
  let isNew: Bool
  /// Stored attempts of the run's steps as this transaction sees them (nil: not loaded yet).
  private var storedSteps: [StepRecord]?
  /// Buffered writes.
  private(set) var newSteps: [NewStep] = []
  private(set) var events: [PendingEvent] = []
  private(set) var timers: [PendingTimer] = []
  private(set) var timerDeletes: [(step: String, attempt: Int)] = []
  /// Stored in-flight attempts cancelled one by one (a foreach that failed fast or ended).
  private(set) var cancelledAttempts: [(step: String, attempt: Int)] = []
  /// The run ended and its workflow queues runs (sequential, or parallel with a limit): the
  /// oldest queued run gets a `start_queued` timer.
  var promotesQueued: Bool { self.finishedStatus != nil && self.workflow.queuesRuns }
  private(set) var cancelsStoredSteps = false
  private(set) var deletesRunTimers = false
  /// Whether a READY step was written: after the commit, wake executors
  /// (``WorkflowEngine/readyWorkCommitted()``). Never NOTIFY inside the transaction: a NOTIFY
  /// holds a database-wide lock until its commit is flushed, which serialises hot commits.
  var scheduledReadyWork: Bool { self.startedChildRun || self.newSteps.contains { $0.record.status == .ready } }
  /// A child run (with ready steps) was started in this transaction.
  var startedChildRun = false
  /// Timers were created: after the commit, wake the timer loop.
  var createsTimers: Bool { !self.timers.isEmpty || self.cancelsChildren }
  /// The run ended without completing: its active child runs are to be cancelled.
  private(set) var cancelsChildren = false
  /// Run outcome recorded in this transaction, for metrics after commit.
  private(set) var finishedStatus: RunStatus?

  struct PendingEvent {
    var type: String
    var stepID: String?
    var attempt: Int?
    var payload: JSONValue
  }

  struct PendingTimer {
    var kind: String
    var fireAt: Date
    var stepID: String?
    var attempt: Int?
    /// Another run's timer (a child telling its parent it finished); nil: this run's.
    var runID: UUID? = nil
  }

  /// A step attempt written by this transaction.
  struct NewStep {
    var record: StepRecord
    /// It entered the queue (READY) here, for the queue-wait metric's `ready_at`.
    var becameReady: Bool
  }

  init(connection: PostgresConnection, logger: Logger, run: RunRecord, workflow: CompiledWorkflow, now: Date, steps: [StepRecord]? = nil) {
    self.openConnection = connection
    self.logger = logger
    self.run = run
    self.workflow = workflow
    self.now = now
    self.isNew = false
    self.storedSteps = steps
  }

  /// A new run's first transition, planned without a connection.
  init(newRun run: RunRecord, workflow: CompiledWorkflow, now: Date, logger: Logger) {
    self.openConnection = nil
    self.logger = logger
    self.run = run
    self.workflow = workflow
    self.now = now
    self.isNew = true
    self.storedSteps = []
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

  // MARK: Reading the run's steps

  /// Every attempt of every step, stored and new, as this transaction sees them.
  mutating func steps() async throws -> [StepRecord] {
    if self.storedSteps == nil, let connection = self.openConnection {
      let rows = try await connection.query(
        "SELECT \(unescaped: StepRecord.columns) FROM step_executions WHERE tenant = \(self.run.tenant) AND run_id = \(self.run.id)",
        logger: self.logger
      )
      var records: [StepRecord] = []
      for try await row in rows { records.append(try StepRecord(row: row)) }
      self.storedSteps = records
    }
    return (self.storedSteps ?? []) + self.newSteps.map(\.record)
  }

  /// Applies a change already written to a stored attempt (a fenced update) to this
  /// transaction's view of it.
  mutating func noteStoredChange(step: String, attempt: Int, _ change: (inout StepRecord) -> Void) {
    guard let index = self.storedSteps?.firstIndex(where: { $0.stepID == step && $0.attempt == attempt }) else { return }
    change(&self.storedSteps![index])
  }

  // MARK: Transitions

  /// Starts the run now: RUNNING, its run timeout and SLA counted from now (with their timers),
  /// RUN_STARTED. Every start goes through here: StartRun, a sub-workflow's child, a queued run
  /// promoted by its run strategy.
  mutating func begin(payload: JSONValue = .object([:])) {
    let now = self.now
    self.run.status = .running
    self.run.startedAt = now
    self.run.deadline = self.workflow.runTimeout.map { now.addingTimeInterval($0.seconds) }
    self.run.slaDeadline = self.workflow.sla.map { now.addingTimeInterval($0.seconds) }
    self.record("RUN_STARTED", payload: payload)
    if let deadline = self.run.deadline { self.addTimer(kind: "run_timeout", fireAt: deadline) }
    if let slaDeadline = self.run.slaDeadline { self.addTimer(kind: "sla", fireAt: slaDeadline) }
  }

  /// Cancels one stored in-flight attempt (READY, RUNNING or WAITING): its late completion is
  /// fenced off, its timers dropped, a child run it started cancelled.
  mutating func cancelStoredAttempt(step: String, attempt: Int) {
    guard let index = self.storedSteps?.firstIndex(where: { $0.stepID == step && $0.attempt == attempt }),
      [.ready, .running, .waiting].contains(self.storedSteps![index].status)
    else { return }
    self.storedSteps![index].status = .cancelled
    self.storedSteps![index].finishedAt = self.now
    self.cancelledAttempts.append((step, attempt))
    self.deleteTimers(step: step, attempt: attempt)
    self.record("STEP_CANCELLED", step: step, attempt: attempt)
  }

  /// Plans from the current step states and applies the plan.
  mutating func advance() async throws {
    guard !self.run.status.isTerminal else { return }
    if !self.isNew, self.workflow.hasForeach { try await self.advanceForeachSteps() }
    let snapshots = try await self.steps().snapshots
    var context = ExpressionContext(input: self.run.input, run: self.run.expressionValue, now: self.now)
    context.params = .object([:])
    let plan = RunPlanner(workflow: self.workflow).plan(snapshots: snapshots, context: context)
    for action in plan.actions {
      switch action {
      case .schedule(let id, let input):
        let attempt = (snapshots[id]?.attempt ?? 0) + 1
        self.insertStep(id, attempt: attempt, status: .ready, input: input, visibleAt: self.now)
        self.record("STEP_SCHEDULED", step: id, attempt: attempt, payload: ["input": input])
      case .skip(let id, let reason):
        self.insertStep(id, attempt: 1, status: .skipped, input: nil, visibleAt: nil)
        self.record("STEP_SKIPPED", step: id, attempt: 1, payload: ["reason": .string(reason)])
      case .fail(let id, let failure):
        self.insertStep(id, attempt: 1, status: .failed, input: nil, visibleAt: nil, error: failure)
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
      let inFlight: Set<StepStatus> = [.ready, .running, .waiting]
      _ = try await self.steps()
      for index in (self.storedSteps ?? []).indices where inFlight.contains(self.storedSteps![index].status) {
        self.record("STEP_CANCELLED", step: self.storedSteps![index].stepID, attempt: self.storedSteps![index].attempt)
        self.storedSteps![index].status = .cancelled
        self.cancelsStoredSteps = true
      }
      for index in self.newSteps.indices where inFlight.contains(self.newSteps[index].record.status) {
        self.record("STEP_CANCELLED", step: self.newSteps[index].record.stepID, attempt: self.newSteps[index].record.attempt)
        self.newSteps[index].record.status = .cancelled
        self.newSteps[index].record.finishedAt = self.now
      }
    }
    self.timers.removeAll()
    self.timerDeletes.removeAll()
    self.deletesRunTimers = !self.isNew
    if let parent = self.run.parentRunID, let step = self.run.parentStepID, let attempt = self.run.parentStepAttempt {
      // The parent's step resolves in its own transaction (no parent/child lock order).
      self.timers.append(PendingTimer(kind: "child_done", fireAt: self.now, stepID: step, attempt: attempt, runID: parent))
    }
    if status != .completed, self.workflow.steps.values.contains(where: { $0.type == .subworkflow || $0.foreach?.step.type == .subworkflow }) {
      self.cancelsChildren = true
    }
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
    foreachAttempt: Int? = nil
  ) {
    let finished = status != .ready
    if status == .ready, let spec = self.workflow.stepSpec(stepID), spec.type == .task, spec.proto.hasScheduleToStartTimeout,
      spec.proto.scheduleToStartTimeout.swiftDuration > .zero
    {
      // No worker claimed it in time: the attempt fails as a timeout (WorkflowEngine+Timers).
      self.addTimer(kind: "schedule_to_start", fireAt: (visibleAt ?? self.now).addingTimeInterval(spec.proto.scheduleToStartTimeout.swiftDuration.seconds), step: stepID, attempt: attempt)
    }
    self.newSteps.append(NewStep(
      record: StepRecord(
        stepID: stepID, attempt: attempt, stepType: self.workflow.stepSpec(stepID)?.type.rawValue ?? "unknown", status: status,
        input: input, output: nil, error: error, createdAt: self.now, startedAt: nil, finishedAt: finished ? self.now : nil,
        visibleAt: visibleAt, leaseOwner: nil, foreachAttempt: foreachAttempt
      ),
      becameReady: status == .ready
    ))
  }

  /// A durable timer for this run (or one of its step attempts); replaces one of the same kind.
  mutating func addTimer(kind: String, fireAt: Date, step: String? = nil, attempt: Int? = nil) {
    self.timers.removeAll { $0.kind == kind && $0.stepID == step && $0.attempt == attempt }
    self.timers.append(PendingTimer(kind: kind, fireAt: fireAt, stepID: step, attempt: attempt))
  }

  /// Drops the timers of one step attempt (it finished, or its timer fired).
  mutating func deleteTimers(step: String, attempt: Int) {
    self.timers.removeAll { $0.stepID == step && $0.attempt == attempt }
    if !self.isNew { self.timerDeletes.append((step, attempt)) }
  }

  // MARK: Writing

  /// Writes this transaction's buffered changes. Call last, once per transaction.
  mutating func flush() async throws {
    var one = [self]
    try await Self.flush(&one, on: self.connection, logger: self.logger)
    self = one[0]
  }

  /// Writes the buffered changes of many runs' transitions (all on `connection`'s open
  /// transaction) with one statement per kind of change, then notifies executors if work
  /// became ready. Event sequence numbers continue each run's own counter.
  static func flush(_ transactions: inout [RunTransaction], on connection: PostgresConnection, logger: Logger) async throws {
    var writes = BulkWrites()
    for index in transactions.indices {
      precondition(!transactions[index].isNew, "a new run is written by a start batch")
      writes.add(&transactions[index])
    }
    try await writes.execute(on: connection, logger: logger)
  }

}

/// Column arrays for set-based writes of many runs' transitions (`unnest` on the server).
/// Nullable text and jsonb travel as '' (NULLIF on the server); nullable timestamps as a
/// value plus a flag.
struct BulkWrites {
  // step_executions inserts
  var stepTenants: [String] = []
  var stepRuns: [UUID] = []
  var stepIDs: [String] = []
  var stepAttempts: [Int] = []
  var stepTypes: [String] = []
  var stepTaskQueues: [String] = []
  var stepStatuses: [String] = []
  var stepInputs: [String] = []
  var stepErrors: [String] = []
  var stepErrorClasses: [String] = []
  var stepNows: [Date] = []
  var stepVisibleAts: [Date] = []
  var stepReady: [Bool] = []
  var stepFinished: [Bool] = []
  var stepForeachAttempts: [Int] = []
  // cancellation of stored in-flight attempts, and run-wide timer deletion
  var cancelTenants: [String] = []
  var cancelRuns: [UUID] = []
  var cancelNows: [Date] = []
  var timerRunTenants: [String] = []
  var timerRuns: [UUID] = []
  // stored attempts cancelled one by one (and the active child runs they started)
  var attemptCancelTenants: [String] = []
  var attemptCancelRuns: [UUID] = []
  var attemptCancelSteps: [String] = []
  var attemptCancelAttempts: [Int] = []
  var attemptCancelNows: [Date] = []
  // runs that ended while their workflow queues runs: the oldest queued run is started
  var promoteTenants: [String] = []
  var promoteWorkflows: [String] = []
  var promoteNows: [Date] = []
  // active children of runs that ended without completing: a cancel_run timer each
  var childCancelTenants: [String] = []
  var childCancelParents: [UUID] = []
  var childCancelNows: [Date] = []
  // per-attempt timer deletion
  var timerDeleteTenants: [String] = []
  var timerDeleteRuns: [UUID] = []
  var timerDeleteSteps: [String] = []
  var timerDeleteAttempts: [Int] = []
  // timer inserts
  var timerTenants: [String] = []
  var timerInsertRuns: [UUID] = []
  var timerKinds: [String] = []
  var timerFireAts: [Date] = []
  var timerSteps: [String] = []
  var timerAttempts: [Int] = []
  // run_events
  var eventTenants: [String] = []
  var eventRuns: [UUID] = []
  var eventSequences: [Int64] = []
  var eventTypes: [String] = []
  var eventSteps: [String] = []
  var eventAttempts: [Int] = []
  var eventPayloads: [String] = []
  var eventNows: [Date] = []
  // runs updates
  var runTenants: [String] = []
  var runIDs: [UUID] = []
  var runStatuses: [String] = []
  var runOutputs: [String] = []
  var runErrors: [String] = []
  var runFinishedAts: [Date] = []
  var runFinished: [Bool] = []
  var runSLAMet: [Bool] = []
  var runSLAKnown: [Bool] = []
  var runSequences: [Int64] = []
  var runAttempts: [Int] = []
  var runNows: [Date] = []
  var notify = false

  /// Takes `transaction`'s buffered writes (and assigns its events' sequence numbers).
  mutating func add(_ transaction: inout RunTransaction) {
    let run = transaction.run
    let now = transaction.now
    for step in transaction.newSteps {
      let record = step.record
      self.stepTenants.append(run.tenant)
      self.stepRuns.append(run.id)
      self.stepIDs.append(record.stepID)
      self.stepAttempts.append(record.attempt)
      self.stepTypes.append(record.stepType)
      self.stepTaskQueues.append(transaction.workflow.stepSpec(record.stepID).map { $0.type == .task ? $0.proto.taskQueue : "" } ?? "")
      self.stepForeachAttempts.append(record.foreachAttempt ?? 0)
      self.stepStatuses.append(record.status.rawValue)
      self.stepInputs.append(record.input?.jsonText ?? "")
      self.stepErrors.append(record.error?.json.jsonText ?? "")
      self.stepErrorClasses.append(record.status == .cancelled ? "cancelled" : record.error?.errorClass.rawValue ?? "")
      self.stepNows.append(now)
      self.stepVisibleAts.append(record.visibleAt ?? now)
      self.stepReady.append(step.becameReady)
      self.stepFinished.append(record.finishedAt != nil)
      if record.status == .ready { self.notify = true }
    }
    if transaction.cancelsStoredSteps {
      self.cancelTenants.append(run.tenant)
      self.cancelRuns.append(run.id)
      self.cancelNows.append(now)
    }
    for (step, attempt) in transaction.cancelledAttempts {
      self.attemptCancelTenants.append(run.tenant)
      self.attemptCancelRuns.append(run.id)
      self.attemptCancelSteps.append(step)
      self.attemptCancelAttempts.append(attempt)
      self.attemptCancelNows.append(now)
    }
    if transaction.promotesQueued {
      self.promoteTenants.append(run.tenant)
      self.promoteWorkflows.append(run.workflowName)
      self.promoteNows.append(now)
    }
    if transaction.cancelsChildren {
      self.childCancelTenants.append(run.tenant)
      self.childCancelParents.append(run.id)
      self.childCancelNows.append(now)
    }
    if transaction.deletesRunTimers {
      self.timerRunTenants.append(run.tenant)
      self.timerRuns.append(run.id)
    }
    for (step, attempt) in transaction.timerDeletes {
      self.timerDeleteTenants.append(run.tenant)
      self.timerDeleteRuns.append(run.id)
      self.timerDeleteSteps.append(step)
      self.timerDeleteAttempts.append(attempt)
    }
    for timer in transaction.timers {
      self.timerTenants.append(run.tenant)
      self.timerInsertRuns.append(timer.runID ?? run.id)
      self.timerKinds.append(timer.kind)
      self.timerFireAts.append(timer.fireAt)
      self.timerSteps.append(timer.stepID ?? "")
      self.timerAttempts.append(timer.attempt ?? 0)
    }
    var sequence = run.lastEventSequence
    for event in transaction.events {
      sequence += 1
      self.eventTenants.append(run.tenant)
      self.eventRuns.append(run.id)
      self.eventSequences.append(sequence)
      self.eventTypes.append(event.type)
      self.eventSteps.append(event.stepID ?? "")
      self.eventAttempts.append(event.attempt ?? 0)
      self.eventPayloads.append(event.payload.jsonText)
      self.eventNows.append(now)
    }
    transaction.run.lastEventSequence = sequence
    self.runTenants.append(run.tenant)
    self.runIDs.append(run.id)
    self.runStatuses.append(transaction.run.status.rawValue)
    self.runOutputs.append(transaction.run.output?.jsonText ?? "")
    self.runErrors.append(transaction.run.error?.jsonText ?? "")
    self.runFinishedAts.append(transaction.run.finishedAt ?? now)
    self.runFinished.append(transaction.run.finishedAt != nil)
    self.runSLAMet.append(transaction.run.slaMet ?? false)
    self.runSLAKnown.append(transaction.run.slaMet != nil)
    self.runSequences.append(sequence)
    self.runAttempts.append(transaction.run.runAttempt)
    self.runNows.append(now)
  }

  /// Writes everything: new attempts, cancellations, timers, events, then the run rows.
  ///
  /// Timer deletions skip rows another transaction holds: that is the timer loop, which
  /// claims a due timer before it locks the timer's run. Waiting for it here, with this run
  /// locked, would deadlock (timer → run there, run → timer here). A skipped timer is deleted
  /// by the loop that holds it, and every timer handler re-checks the run and the attempt under
  /// the run lock, so one that outlived its purpose does nothing.
  func execute(on connection: PostgresConnection, logger: Logger) async throws {
    if !self.stepIDs.isEmpty {
      _ = try await connection.query(
        """
        INSERT INTO step_executions (tenant, run_id, step_id, attempt, step_type, task_queue, status, input, ready_at,
          visible_at, error, error_class, finished_at, created_at, foreach_attempt)
        SELECT s.tenant, s.run_id, s.step_id, s.attempt, s.step_type, s.task_queue, s.status, NULLIF(s.input, '')::jsonb,
          CASE WHEN s.ready THEN s.now END, CASE WHEN s.status = 'READY' THEN s.visible_at END,
          NULLIF(s.error, '')::jsonb, NULLIF(s.error_class, ''), CASE WHEN s.finished THEN s.now END, s.now, NULLIF(s.foreach_attempt, 0)
        FROM unnest(\(self.stepTenants)::text[], \(self.stepRuns)::uuid[], \(self.stepIDs)::text[], \(self.stepAttempts)::bigint[],
          \(self.stepTypes)::text[], \(self.stepTaskQueues)::text[], \(self.stepStatuses)::text[], \(self.stepInputs)::text[],
          \(self.stepErrors)::text[], \(self.stepErrorClasses)::text[], \(self.stepNows)::timestamptz[],
          \(self.stepVisibleAts)::timestamptz[], \(self.stepReady)::bool[], \(self.stepFinished)::bool[], \(self.stepForeachAttempts)::bigint[])
          AS s(tenant, run_id, step_id, attempt, step_type, task_queue, status, input, error, error_class, now, visible_at, ready, finished,
            foreach_attempt)
        """,
        logger: logger
      ).collect()
    }
    if !self.cancelRuns.isEmpty {
      _ = try await connection.query(
        """
        UPDATE step_executions s SET status = 'CANCELLED', finished_at = c.now, lease_token = NULL,
          lease_owner = NULL, lease_expires_at = NULL, error_class = 'cancelled'
        FROM unnest(\(self.cancelTenants)::text[], \(self.cancelRuns)::uuid[], \(self.cancelNows)::timestamptz[]) AS c(tenant, run_id, now)
        WHERE s.tenant = c.tenant AND s.run_id = c.run_id AND s.status IN ('READY', 'RUNNING', 'WAITING')
        """,
        logger: logger
      ).collect()
    }
    if !self.attemptCancelRuns.isEmpty {
      _ = try await connection.query(
        """
        UPDATE step_executions s SET status = 'CANCELLED', finished_at = c.now, lease_token = NULL,
          lease_owner = NULL, lease_expires_at = NULL, error_class = 'cancelled'
        FROM unnest(\(self.attemptCancelTenants)::text[], \(self.attemptCancelRuns)::uuid[], \(self.attemptCancelSteps)::text[],
          \(self.attemptCancelAttempts)::bigint[], \(self.attemptCancelNows)::timestamptz[]) AS c(tenant, run_id, step_id, attempt, now)
        WHERE s.tenant = c.tenant AND s.run_id = c.run_id AND s.step_id = c.step_id AND s.attempt = c.attempt
          AND s.status IN ('READY', 'RUNNING', 'WAITING')
        """,
        logger: logger
      ).collect()
      _ = try await connection.query(
        """
        INSERT INTO timers (tenant, run_id, kind, fire_at)
        SELECT r.tenant, r.id, 'cancel_run', c.now
        FROM unnest(\(self.attemptCancelTenants)::text[], \(self.attemptCancelRuns)::uuid[], \(self.attemptCancelSteps)::text[],
          \(self.attemptCancelAttempts)::bigint[], \(self.attemptCancelNows)::timestamptz[]) AS c(tenant, run_id, step_id, attempt, now)
        JOIN runs r ON r.tenant = c.tenant AND r.parent_run_id = c.run_id AND r.parent_step_id = c.step_id
          AND r.parent_step_attempt = c.attempt
        WHERE r.status IN ('QUEUED', 'RUNNING')
        ON CONFLICT ON CONSTRAINT timers_unique DO NOTHING
        """,
        logger: logger
      ).collect()
    }
    if !self.timerRuns.isEmpty {
      _ = try await connection.query(
        """
        DELETE FROM timers WHERE id IN (
          SELECT t.id FROM timers t JOIN unnest(\(self.timerRunTenants)::text[], \(self.timerRuns)::uuid[]) AS r(tenant, run_id)
            ON t.tenant = r.tenant AND t.run_id = r.run_id
          FOR UPDATE OF t SKIP LOCKED)
        """,
        logger: logger
      ).collect()
    }
    if !self.timerDeleteRuns.isEmpty {
      _ = try await connection.query(
        """
        DELETE FROM timers WHERE id IN (
          SELECT t.id FROM timers t
          JOIN unnest(\(self.timerDeleteTenants)::text[], \(self.timerDeleteRuns)::uuid[], \(self.timerDeleteSteps)::text[],
            \(self.timerDeleteAttempts)::bigint[]) AS d(tenant, run_id, step_id, attempt)
            ON t.tenant = d.tenant AND t.run_id = d.run_id AND t.step_id = d.step_id AND t.attempt = d.attempt
          FOR UPDATE OF t SKIP LOCKED)
        """,
        logger: logger
      ).collect()
    }
    if !self.timerKinds.isEmpty {
      _ = try await connection.query(
        """
        INSERT INTO timers (tenant, run_id, step_id, attempt, kind, fire_at)
        SELECT t.tenant, t.run_id, NULLIF(t.step_id, ''), NULLIF(t.attempt, 0), t.kind, t.fire_at
        FROM unnest(\(self.timerTenants)::text[], \(self.timerInsertRuns)::uuid[], \(self.timerSteps)::text[], \(self.timerAttempts)::bigint[],
          \(self.timerKinds)::text[], \(self.timerFireAts)::timestamptz[]) AS t(tenant, run_id, step_id, attempt, kind, fire_at)
        ON CONFLICT ON CONSTRAINT timers_unique DO UPDATE SET fire_at = EXCLUDED.fire_at
        """,
        logger: logger
      ).collect()
    }
    if !self.childCancelParents.isEmpty {
      _ = try await connection.query(
        """
        INSERT INTO timers (tenant, run_id, kind, fire_at)
        SELECT r.tenant, r.id, 'cancel_run', p.now
        FROM unnest(\(self.childCancelTenants)::text[], \(self.childCancelParents)::uuid[], \(self.childCancelNows)::timestamptz[]) AS p(tenant, id, now)
        JOIN runs r ON r.tenant = p.tenant AND r.parent_run_id = p.id
        WHERE r.status IN ('QUEUED', 'RUNNING')
        ON CONFLICT ON CONSTRAINT timers_unique DO NOTHING
        """,
        logger: logger
      ).collect()
    }
    if !self.eventTypes.isEmpty {
      _ = try await connection.query(
        """
        INSERT INTO run_events (tenant, run_id, seq, type, step_id, attempt, payload, occurred_at)
        SELECT e.tenant, e.run_id, e.seq, e.type, NULLIF(e.step, ''), NULLIF(e.attempt, 0), e.payload::jsonb, e.now
        FROM unnest(\(self.eventTenants)::text[], \(self.eventRuns)::uuid[], \(self.eventSequences)::bigint[], \(self.eventTypes)::text[],
          \(self.eventSteps)::text[], \(self.eventAttempts)::bigint[], \(self.eventPayloads)::text[], \(self.eventNows)::timestamptz[])
          AS e(tenant, run_id, seq, type, step, attempt, payload, now)
        """,
        logger: logger
      ).collect()
    }
    if !self.runIDs.isEmpty {
      _ = try await connection.query(
        """
        UPDATE runs SET status = r.status, output = NULLIF(r.output, '')::jsonb, error = NULLIF(r.error, '')::jsonb,
          finished_at = CASE WHEN r.finished THEN r.finished_at END, sla_met = CASE WHEN r.sla_known THEN r.sla_met END,
          last_event_seq = r.seq, run_attempt = r.run_attempt, updated_at = r.now,
          -- A queued run starts when it is promoted (RUNNING); one cancelled in the queue never started.
          started_at = CASE WHEN runs.status = 'QUEUED' AND r.status <> 'RUNNING' THEN runs.started_at ELSE coalesce(runs.started_at, r.now) END
        FROM unnest(\(self.runTenants)::text[], \(self.runIDs)::uuid[], \(self.runStatuses)::text[], \(self.runOutputs)::text[],
          \(self.runErrors)::text[], \(self.runFinishedAts)::timestamptz[], \(self.runFinished)::bool[], \(self.runSLAMet)::bool[],
          \(self.runSLAKnown)::bool[], \(self.runSequences)::bigint[], \(self.runAttempts)::bigint[], \(self.runNows)::timestamptz[])
          AS r(tenant, id, status, output, error, finished_at, finished, sla_met, sla_known, seq, run_attempt, now)
        WHERE runs.tenant = r.tenant AND runs.id = r.id
        """,
        logger: logger
      ).collect()
    }
    if !self.promoteWorkflows.isEmpty {
      // After the run rows: a queued run that was just cancelled is no longer the oldest. The
      // timer names the oldest queued run; its handler counts the free slots when it fires.
      _ = try await connection.query(
        """
        INSERT INTO timers (tenant, run_id, kind, fire_at)
        SELECT q.tenant, q.id, 'start_queued', p.now
        FROM unnest(\(self.promoteTenants)::text[], \(self.promoteWorkflows)::text[], \(self.promoteNows)::timestamptz[]) AS p(tenant, workflow, now)
        CROSS JOIN LATERAL (
          SELECT r.tenant, r.id FROM runs r
          WHERE r.tenant = p.tenant AND r.workflow_name = p.workflow AND r.status = 'QUEUED'
          ORDER BY r.created_at, r.id LIMIT 1) q
        ON CONFLICT ON CONSTRAINT timers_unique DO NOTHING
        """,
        logger: logger
      ).collect()
    }
  }
}

/// LISTEN/NOTIFY channel names.
enum EngineChannel {
  /// Steps became READY.
  static let ready = "maestro_workflow_ready"
}
