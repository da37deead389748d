import Foundation
import Logging
import MaestroCore
import PostgresNIO

/// A new run planned in memory by StartRun: the run row and its first transition.
struct PlannedStart: Sendable {
  var transaction: RunTransaction
  /// The caller asked for the latest version (`start_runs` checks that it still is).
  var latest: Bool

  /// The run as written: its event counter includes the first transition's events.
  var run: RunRecord {
    var run = self.transaction.run
    run.lastEventSequence += Int64(self.transaction.events.count)
    return run
  }
}

/// What `start_runs` did with one planned run.
enum StartWriteOutcome: String, Sendable {
  /// The run and its first transition were written.
  case created
  /// Its idempotency key had already started a run; nothing was written.
  case exists
  /// It asked for the latest version and a newer one was registered meanwhile.
  case stale
}

/// Column arrays for `start_runs` (migration 0004): many new runs of one tenant with their
/// first transitions, written by one statement in one commit. The child rows and the run
/// columns shared with updates come from ``BulkWrites``.
struct StartBatch {
  let tenant: String
  private var writes = BulkWrites()
  private var names: [String] = []
  private var versions: [Int] = []
  private var latest: [Bool] = []
  private var inputs: [String] = []
  private var idempotencyKeys: [String] = []
  private var startedBys: [String] = []
  private var labels: [String] = []
  private var deadlines: [Date] = []
  private var hasDeadline: [Bool] = []
  private var slaDeadlines: [Date] = []
  private var hasSLA: [Bool] = []

  init(tenant: String) { self.tenant = tenant }

  var isEmpty: Bool { self.names.isEmpty }

  mutating func add(_ start: PlannedStart) {
    precondition(start.transaction.isNew && start.transaction.run.tenant == self.tenant)
    var transaction = start.transaction
    let run = transaction.run
    self.writes.add(&transaction)
    self.names.append(run.workflowName)
    self.versions.append(run.workflowVersion)
    self.latest.append(start.latest)
    self.inputs.append(run.input.jsonText)
    self.idempotencyKeys.append(run.idempotencyKey ?? "")
    self.startedBys.append(run.startedBy ?? "")
    self.labels.append(run.labels.jsonText)
    self.deadlines.append(run.deadline ?? transaction.now)
    self.hasDeadline.append(run.deadline != nil)
    self.slaDeadlines.append(run.slaDeadline ?? transaction.now)
    self.hasSLA.append(run.slaDeadline != nil)
  }

  /// Writes the batch (one statement, autocommit) and returns each run's outcome by id.
  func execute(on connection: PostgresConnection, logger: Logger) async throws -> [UUID: StartWriteOutcome] {
    let w = self.writes
    let rows = try await connection.query(
      """
      SELECT run_id, outcome FROM start_runs(\(self.tenant),
        \(w.runIDs)::uuid[], \(self.names)::text[], \(self.versions)::integer[], \(self.latest)::bool[],
        \(w.runStatuses)::text[], \(self.inputs)::text[], \(w.runOutputs)::text[], \(w.runErrors)::text[],
        \(self.idempotencyKeys)::text[], \(self.startedBys)::text[], \(self.labels)::text[], \(w.runNows)::timestamptz[],
        \(w.runFinished)::bool[], \(self.deadlines)::timestamptz[], \(self.hasDeadline)::bool[],
        \(self.slaDeadlines)::timestamptz[], \(self.hasSLA)::bool[], \(w.runSLAMet)::bool[], \(w.runSLAKnown)::bool[],
        \(w.runSequences)::bigint[],
        \(w.stepRuns)::uuid[], \(w.stepIDs)::text[], \(w.stepAttempts)::bigint[], \(w.stepTypes)::text[], \(w.stepTaskQueues)::text[],
        \(w.stepStatuses)::text[],
        \(w.stepInputs)::text[], \(w.stepErrors)::text[], \(w.stepErrorClasses)::text[], \(w.stepNows)::timestamptz[],
        \(w.stepVisibleAts)::timestamptz[], \(w.stepReady)::bool[], \(w.stepFinished)::bool[],
        \(w.timerInsertRuns)::uuid[], \(w.timerSteps)::text[], \(w.timerAttempts)::bigint[], \(w.timerKinds)::text[],
        \(w.timerFireAts)::timestamptz[],
        \(w.eventRuns)::uuid[], \(w.eventSequences)::bigint[], \(w.eventTypes)::text[], \(w.eventSteps)::text[],
        \(w.eventAttempts)::bigint[], \(w.eventPayloads)::text[], \(w.eventNows)::timestamptz[])
      """,
      logger: logger
    )
    var outcomes: [UUID: StartWriteOutcome] = [:]
    for try await (id, outcome) in rows.decode((UUID, String).self) {
      guard let value = StartWriteOutcome(rawValue: outcome) else { throw MaestroError.internal(cause: nil) }
      outcomes[id] = value
    }
    return outcomes
  }
}
