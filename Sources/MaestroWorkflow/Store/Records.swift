import Foundation
import MaestroWorkflowModel

/// A `runs` row.
struct RunRecord: Sendable {
  var tenant: String
  var id: UUID
  var workflowName: String
  var workflowVersion: Int
  var status: RunStatus
  var input: JSONValue
  var output: JSONValue?
  var error: JSONValue?
  var idempotencyKey: String?
  var parentRunID: UUID?
  var parentStepID: String?
  var startedBy: String?
  var labels: JSONValue
  var createdAt: Date
  var startedAt: Date?
  var finishedAt: Date?
  var deadline: Date?
  var slaDeadline: Date?
  var slaMet: Bool?
  var lastEventSequence: Int64
  var runAttempt: Int
  /// subworkflow: the attempt of the parent's step this child run serves.
  var parentStepAttempt: Int? = nil

  /// The columns in the order ``init(row:)`` reads them.
  static let columns = """
    tenant, id, workflow_name, workflow_version, status, input::text, output::text, error::text,
    idempotency_key, parent_run_id, parent_step_id, started_by, labels::text, created_at, started_at,
    finished_at, deadline, sla_deadline, sla_met, last_event_seq, run_attempt, parent_step_attempt
    """

  /// What `run.*` evaluates to in expressions.
  var expressionValue: JSONValue {
    var members: [String: JSONValue] = [
      "id": .string(self.id.uuidString.lowercased()),
      "workflow": .string(self.workflowName),
      "version": .number(Double(self.workflowVersion)),
      "attempt": .number(Double(self.runAttempt)),
      "tenant": .string(self.tenant),
    ]
    if let startedAt = self.startedAt { members["started_at"] = .string(Timestamps.format(startedAt)) }
    return .object(members)
  }
}

/// A `step_executions` row (one attempt).
struct StepRecord: Sendable {
  var stepID: String
  var attempt: Int
  var stepType: String
  var status: StepStatus
  var input: JSONValue?
  var output: JSONValue?
  var error: StepFailure?
  var createdAt: Date
  var startedAt: Date?
  var finishedAt: Date?
  var visibleAt: Date?
  var leaseOwner: String?
  /// A foreach iteration: the attempt of its foreach step it belongs to (nil otherwise).
  var foreachAttempt: Int? = nil

  static let columns = """
    step_id, attempt, step_type, status, input::text, output::text, error::text, created_at,
    started_at, finished_at, visible_at, lease_owner, foreach_attempt
    """
}

/// A `run_events` row.
struct EventRecord: Sendable {
  var sequence: Int64
  var type: String
  var occurredAt: Date
  var stepID: String?
  var attempt: Int?
  var payload: JSONValue
}

extension [StepRecord] {
  /// The latest attempt of each step, with failure counts by class (what the planner needs).
  var snapshots: [String: StepSnapshot] {
    var result: [String: StepSnapshot] = [:]
    for record in self.sorted(by: { ($0.stepID, $0.attempt) < ($1.stepID, $1.attempt) }) {
      var failures = result[record.stepID]?.failuresByClass ?? [:]
      if record.status == .failed || record.status == .timedOut, let error = record.error {
        failures[error.errorClass, default: 0] += 1
      }
      result[record.stepID] = StepSnapshot(
        status: record.status,
        attempt: record.attempt,
        output: record.output,
        error: record.error,
        failuresByClass: failures
      )
    }
    return result
  }
}

extension String {
  /// A column list with every column qualified by `alias` (`a, b::text` → `r.a, r.b::text`).
  fileprivate func qualified(by alias: String) -> String {
    self.split(separator: ",").map { "\(alias)." + $0.trimmingCharacters(in: .whitespacesAndNewlines) }.joined(separator: ", ")
  }
}

extension RunRecord {
  /// ``columns`` of the runs table aliased `r` (batch queries join it).
  static let columnsOfR = RunRecord.columns.qualified(by: "r")
}

extension StepRecord {
  /// ``columns`` of the step_executions table aliased `s`.
  static let columnsOfS = StepRecord.columns.qualified(by: "s")
}

/// A run's key (runs are unique per tenant).
struct RunKey: Hashable, Sendable {
  var tenant: String
  var id: UUID
}

/// One attempt of one step of a run.
struct StepKey: Hashable, Sendable {
  var run: RunKey
  var step: String
  var attempt: Int
}

extension StepRecord {
  /// This attempt as it is after an accepted outcome was written to it.
  mutating func apply(_ result: BuiltinExecutor.Result, now: Date) {
    switch result {
    case .completed(let output):
      self.status = .completed
      self.output = output
      self.finishedAt = now
    case .failed(let failure):
      self.status = .failed
      self.error = failure
      self.finishedAt = now
    case .wait, .awaitSignal, .startChild, .fanOut:
      self.status = .waiting
    }
  }
}
