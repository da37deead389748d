import Foundation
import MaestroCore
import MaestroWorkflowModel
import PostgresNIO

/// foreach: a foreach step attempt is WAITING while its iterations run. Iteration `i` is the
/// step `<id>[i]` (its own attempts, retried per the inner step's policy, each row marked with
/// the foreach attempt it belongs to). Every advance of the run looks at each waiting foreach:
/// it starts iterations while fewer than `concurrency` are in flight, fails the foreach (and
/// cancels the iterations still in flight) once more than `tolerated_failures` iterations have
/// failed, and completes it with the outputs in item order when every iteration has ended.
///
/// A retried foreach (RetryRun, or its own retry policy after a timeout) keeps the outputs of
/// iterations that completed under an earlier attempt and runs the others again.
extension RunTransaction {
  mutating func advanceForeachSteps() async throws {
    // Ending a foreach (its in-flight iterations are then cancelled), or an iteration that ends
    // as it starts (a false `when`, an input that fails to evaluate) needs another look: repeat
    // until nothing of the kind happens.
    var changed = true
    var rounds = 0
    while changed, rounds < 1_000 {
      changed = false
      rounds += 1
      let records = try await self.steps()
      let latest = Self.latestAttempts(records)
      for id in self.workflow.order {
        guard let step = self.workflow.steps[id], let foreach = step.foreach else { continue }
        let current = latest[id]
        // Iterations of an attempt that is over (failed fast, timed out, cancelled) stop.
        for (stepID, record) in latest where record.foreachAttempt != nil && [.ready, .running, .waiting].contains(record.status) {
          guard let (owner, _) = CompiledWorkflow.parseIterationID(stepID), owner == id else { continue }
          if current?.status != .waiting || current?.attempt != record.foreachAttempt {
            self.cancelStoredAttempt(step: stepID, attempt: record.attempt)
          }
        }
        guard let current, current.status == .waiting else { continue }
        if try await self.advanceForeach(step, foreach, attempt: current, latest: latest) { changed = true }
      }
    }
  }

  /// One waiting foreach attempt; returns whether the foreach ended or an iteration ended as it
  /// started (then the caller looks again).
  private mutating func advanceForeach(
    _ step: CompiledWorkflow.CompiledStep,
    _ foreach: CompiledWorkflow.ForEach,
    attempt current: StepRecord,
    latest: [String: StepRecord]
  ) async throws -> Bool {
    guard case .array(let items) = current.input?["items"] ?? .null else {
      try await self.resolveForeach(current, status: .failed, output: nil, error: StepFailure("foreach: the attempt has no items", errorClass: .platform, nonRetryable: true))
      return true
    }
    var results = [JSONValue](repeating: .null, count: items.count)
    var notStarted: [(index: Int, previousAttempt: Int)] = []
    var inFlight = 0
    var failures: [(index: Int, failure: StepFailure)] = []
    for index in items.indices {
      let iterationID = CompiledWorkflow.iterationID(step.id, index)
      guard let record = latest[iterationID] else {
        notStarted.append((index, 0))
        continue
      }
      if record.foreachAttempt != current.attempt {
        // From an earlier attempt of the foreach: a completed iteration keeps its output.
        if record.status == .completed || record.status == .skipped {
          results[index] = record.output ?? .null
        } else {
          notStarted.append((index, record.attempt))
        }
        continue
      }
      switch record.status {
      case .completed: results[index] = record.output ?? .null
      case .skipped: break
      case .failed, .timedOut, .cancelled:
        failures.append((index, record.error ?? StepFailure("iteration \(index) ended \(record.status.rawValue)", errorClass: .platform)))
      case .pending, .ready, .running, .waiting:
        inFlight += 1
      }
    }
    if failures.count > foreach.toleratedFailures {
      let (index, first) = failures[0]
      let message = failures.count == 1
        ? "iteration \(index) failed: \(first.message)"
        : "\(failures.count) iterations failed (\(foreach.toleratedFailures) tolerated); iteration \(index): \(first.message)"
      let failure = StepFailure(message, errorClass: first.errorClass, type: "foreach", nonRetryable: true)
      try await self.resolveForeach(current, status: .failed, output: nil, error: failure)
      return true
    }
    if notStarted.isEmpty, inFlight == 0 {
      let output: JSONValue = ["results": .array(results), "failed": .number(Double(failures.count))]
      try await self.resolveForeach(current, status: .completed, output: output, error: nil)
      return true
    }
    let slots = foreach.concurrency - inFlight
    guard slots > 0, !notStarted.isEmpty else { return false }
    let planner = RunPlanner(workflow: self.workflow)
    var context = ExpressionContext(input: self.run.input, run: self.run.expressionValue, now: self.now)
    context.params = .object([:])
    context.steps = planner.expressionSteps(try await self.steps().snapshots)
    var endedAtOnce = false
    for (index, previousAttempt) in notStarted.prefix(slots) {
      let attempt = previousAttempt + 1
      switch planner.iteration(of: step, index: index, item: items[index], context: context) {
      case .schedule(let id, let input):
        self.insertStep(id, attempt: attempt, status: .ready, input: input, visibleAt: self.now, foreachAttempt: current.attempt)
        self.record("STEP_SCHEDULED", step: id, attempt: attempt, payload: ["input": input])
      case .skip(let id, let reason):
        self.insertStep(id, attempt: attempt, status: .skipped, input: nil, visibleAt: nil, foreachAttempt: current.attempt)
        self.record("STEP_SKIPPED", step: id, attempt: attempt, payload: ["reason": .string(reason)])
        endedAtOnce = true
      case .fail(let id, let failure):
        self.insertStep(id, attempt: attempt, status: .failed, input: nil, visibleAt: nil, error: failure, foreachAttempt: current.attempt)
        self.record("STEP_FAILED", step: id, attempt: attempt, payload: ["error": failure.json])
        endedAtOnce = true
      }
    }
    return endedAtOnce
  }

  /// Ends a waiting foreach attempt. Its failure is final for the attempt (the iterations had
  /// their retries); the planner then fails the run unless the step allows failure.
  private mutating func resolveForeach(_ attempt: StepRecord, status: StepStatus, output: JSONValue?, error: StepFailure?) async throws {
    let rows = try await self.connection.query(
      """
      UPDATE step_executions SET status = \(status.rawValue), output = NULLIF(\(output?.jsonText ?? ""), '')::jsonb,
        error = NULLIF(\(error?.json.jsonText ?? ""), '')::jsonb, error_class = NULLIF(\(error?.errorClass.rawValue ?? ""), ''),
        finished_at = \(self.now)
      WHERE tenant = \(self.run.tenant) AND run_id = \(self.run.id) AND step_id = \(attempt.stepID) AND attempt = \(attempt.attempt)
        AND status = 'WAITING'
      RETURNING step_id
      """,
      logger: self.logger
    ).collect()
    guard !rows.isEmpty else { return }
    let now = self.now
    self.noteStoredChange(step: attempt.stepID, attempt: attempt.attempt) { record in
      record.status = status
      record.output = output
      record.error = error
      record.finishedAt = now
    }
    self.deleteTimers(step: attempt.stepID, attempt: attempt.attempt)
    if let error {
      self.record("STEP_FAILED", step: attempt.stepID, attempt: attempt.attempt, payload: ["error": error.json, "will_retry": false])
    } else {
      self.record("STEP_COMPLETED", step: attempt.stepID, attempt: attempt.attempt, payload: ["output": output ?? .null])
    }
  }

  /// The latest attempt of each step id.
  static func latestAttempts(_ records: [StepRecord]) -> [String: StepRecord] {
    var latest: [String: StepRecord] = [:]
    for record in records where (latest[record.stepID]?.attempt ?? 0) < record.attempt { latest[record.stepID] = record }
    return latest
  }
}
