import Foundation
import Logging
import MaestroCore
import MaestroKit
import MaestroWorkflowModel
import PostgresNIO

/// Sub-workflows: a `subworkflow` step starts a child run in the same tenant and waits
/// (WAITING) until the child ends. The child is created in the transaction that records the
/// parent step's claim, so a step attempt has exactly one child (its idempotency key is the
/// attempt's). The child's end reaches the parent through a `child_done` timer, and a parent
/// that ends without completing cancels its active children through `cancel_run` timers: each
/// side is changed under its own run lock only (see migration 0005).
extension WorkflowEngine {
  /// Starts the child run of a subworkflow step attempt that has just become WAITING.
  func startChild(step id: String, attempt: Int, workflow name: String, version: Int, input: JSONValue, in transaction: inout RunTransaction) async throws {
    let parent = transaction.run
    let connection = transaction.connection
    let child: CompiledWorkflow
    do {
      child = try await self.definitions.compiled(tenant: parent.tenant, name: name, version: version, on: connection)
    } catch let error as MaestroError where error.code == .notFound {
      let failure = StepFailure("subworkflow: \(error.message)", errorClass: .user, type: "subworkflow", nonRetryable: true)
      try await self.resolveWaiting(step: id, attempt: attempt, with: .failed(failure), in: &transaction)
      return
    }
    let applied: JSONValue
    switch ParameterValidator.apply(child.parameters, to: input, path: "input") {
    case .success(let value): applied = value
    case .failure(let issues):
      let listed = issues.issues.prefix(5).map(\.description).joined(separator: "; ")
      let failure = StepFailure("subworkflow '\(name)': the input does not match its parameters: \(listed)", errorClass: .user, type: "subworkflow", nonRetryable: true)
      try await self.resolveWaiting(step: id, attempt: attempt, with: .failed(failure), in: &transaction)
      return
    }
    let now = transaction.now
    let key = "subworkflow:\(parent.id.uuidString.lowercased()):\(id):\(attempt)"
    var created = RunRecord(
      tenant: parent.tenant, id: UUID(), workflowName: child.name, workflowVersion: child.version, status: .queued, input: applied,
      output: nil, error: nil, idempotencyKey: key, parentRunID: parent.id, parentStepID: id,
      startedBy: "run:\(parent.id.uuidString.lowercased())", labels: parent.labels, createdAt: now, startedAt: nil, finishedAt: nil,
      deadline: nil, slaDeadline: nil, slaMet: nil, lastEventSequence: 0, runAttempt: 1
    )
    created.parentStepAttempt = attempt
    var childTransaction = RunTransaction(newRun: created, workflow: child, now: now, logger: self.logger)
    childTransaction.record("RUN_CREATED", payload: [
      "input": applied, "workflow": .string(child.name), "version": .number(Double(child.version)),
      "parent_run_id": .string(parent.id.uuidString.lowercased()), "parent_step_id": .string(id),
    ])
    childTransaction.begin()
    let run = childTransaction.run
    try await childTransaction.advance()

    let inserted = try await connection.query(
      """
      INSERT INTO runs (id, tenant, workflow_name, workflow_version, status, input, idempotency_key, parent_run_id, parent_step_id,
        parent_step_attempt, started_by, labels, created_at, started_at, deadline, sla_deadline, last_event_seq, updated_at)
      VALUES (\(run.id), \(run.tenant), \(run.workflowName), \(run.workflowVersion), 'RUNNING', \(applied.jsonText)::jsonb, \(key),
        \(parent.id), \(id), \(attempt), \(run.startedBy), \(run.labels.jsonText)::jsonb, \(now), \(now), \(run.deadline), \(run.slaDeadline),
        0, \(now))
      ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
      RETURNING id
      """,
      logger: self.logger
    ).collect()
    guard !inserted.isEmpty else { return }  // this attempt's child exists already
    var writes = BulkWrites()
    writes.add(&childTransaction)
    try await writes.execute(on: connection, logger: self.logger)
    _ = try await connection.query(
      """
      UPDATE step_executions SET child_run_id = \(run.id)
      WHERE tenant = \(parent.tenant) AND run_id = \(parent.id) AND step_id = \(id) AND attempt = \(attempt)
      """,
      logger: self.logger
    ).collect()
    transaction.record("CHILD_RUN_STARTED", step: id, attempt: attempt, payload: [
      "child_run_id": .string(run.id.uuidString.lowercased()), "workflow": .string(child.name), "version": .number(Double(child.version)),
    ])
    transaction.startedChildRun = true
    self.metrics.runStarted(workflow: child.name)
    if let status = childTransaction.finishedStatus {
      // A child with nothing to run ends at once: resolve the step now.
      var finished = childTransaction.run
      finished.status = status
      try await self.resolveWaiting(step: id, attempt: attempt, with: Self.childResult(finished), in: &transaction)
    }
  }

  /// The `child_done` timer: the child of a waiting subworkflow step attempt has ended.
  func childFinished(step id: String, attempt: Int, in transaction: inout RunTransaction) async throws {
    let parent = transaction.run
    let rows = try await transaction.connection.query(
      """
      SELECT \(unescaped: RunRecord.columns) FROM runs
      WHERE tenant = \(parent.tenant) AND parent_run_id = \(parent.id) AND parent_step_id = \(id) AND parent_step_attempt = \(attempt)
      """,
      logger: self.logger
    )
    var child: RunRecord?
    for try await row in rows { child = try RunRecord(row: row) }
    guard let child, child.status.isTerminal else { return }
    if try await self.resolveWaiting(step: id, attempt: attempt, with: Self.childResult(child), in: &transaction) {
      try await transaction.advance()
    }
  }

  /// The `cancel_run` timer: the run's parent ended without completing.
  func cancelForParent(in transaction: inout RunTransaction) async throws {
    guard !transaction.run.status.isTerminal else { return }
    transaction.record("RUN_CANCEL_REQUESTED", payload: ["reason": "the parent run ended", "by": .string("run:\(transaction.run.parentRunID?.uuidString.lowercased() ?? "")")])
    try await transaction.finish(.cancelled, output: nil, error: StepFailure("cancelled: the parent run ended", errorClass: .cancelled).json)
  }

  /// A subworkflow step's result from its child's end: COMPLETED passes the child's output;
  /// anything else fails the step with the child's error (retried per the step's policy,
  /// which starts a new child).
  static func childResult(_ child: RunRecord) -> BuiltinExecutor.Result {
    if child.status == .completed { return .completed(output: child.output ?? .object([:])) }
    let cause = child.error.flatMap(StepFailure.init(json:))
    let message = "sub-workflow run \(child.id.uuidString.lowercased()) (\(child.workflowName)) ended \(child.status.rawValue)" + (cause.map { ": \($0.message)" } ?? "")
    let errorClass: StepFailure.ErrorClass = switch child.status {
    case .timedOut: .timeout
    case .cancelled: .platform
    default: cause?.errorClass == .cancelled ? .platform : (cause?.errorClass ?? .user)
    }
    return .failed(StepFailure(message, errorClass: errorClass, type: "subworkflow"))
  }
}
