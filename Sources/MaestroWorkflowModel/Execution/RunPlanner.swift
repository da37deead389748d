public import MaestroProtos
import Foundation

/// Decides what a run does next from the state of its steps: which steps become ready (with
/// their inputs evaluated), which are skipped, and whether the run is finished.
///
/// Pure: no clock (the context carries `now`), no I/O. The engine calls it inside the
/// transaction that records a step's outcome, so every transition is decided once.
///
/// Rules (as documented in workflow.proto): a step is ready when each dependency is COMPLETED,
/// SKIPPED, or FAILED with `allow_failure`; a step whose dependencies were all SKIPPED is
/// SKIPPED; a step gated by a switch is SKIPPED unless the switch chose its branch; a false
/// `when` skips the step. The run completes when every step is finished (the output mapping is
/// then evaluated) and fails as soon as a step fails without `allow_failure`.
public struct RunPlanner: Sendable {
  public let workflow: CompiledWorkflow

  public init(workflow: CompiledWorkflow) { self.workflow = workflow }

  /// A step transition the planner decided.
  public enum StepAction: Sendable, Hashable {
    /// Enqueue the next attempt with this evaluated input.
    case schedule(String, input: JSONValue)
    case skip(String, reason: String)
    /// The step could not even start (its input or condition failed to evaluate).
    case fail(String, StepFailure)
  }

  public enum Outcome: Sendable, Hashable {
    case running
    case completed(output: JSONValue)
    case failed(stepID: String?, failure: StepFailure)
  }

  public struct Plan: Sendable, Hashable {
    public var actions: [StepAction]
    public var outcome: Outcome
  }

  /// The plan for a run whose steps are in `snapshots` (absent = not started).
  public func plan(snapshots: [String: StepSnapshot], context baseContext: ExpressionContext) -> Plan {
    var states = snapshots
    var actions: [StepAction] = []
    var context = baseContext
    context.steps = self.expressionSteps(states)

    var changed = true
    while changed {
      changed = false
      for id in self.workflow.order {
        guard let step = self.workflow.steps[id] else { continue }
        if let state = states[id], state.status != .pending { continue }
        let dependencies = step.dependsOn.compactMap { dependency in states[dependency].map { (dependency, $0) } }
        guard dependencies.count == step.dependsOn.count,
          dependencies.allSatisfy({ $0.1.status.isTerminal })
        else { continue }
        // A failed dependency without allow_failure fails the run; nothing downstream starts.
        if dependencies.contains(where: { !self.isSatisfied($0.1, step: $0.0) }) { continue }

        let action = self.decide(step: step, dependencies: dependencies, states: states, context: context)
        actions.append(action)
        switch action {
        case .schedule:
          states[id] = StepSnapshot(status: .ready, attempt: (states[id]?.attempt ?? 0) + 1)
        case .skip:
          states[id] = StepSnapshot(status: .skipped, attempt: max(states[id]?.attempt ?? 1, 1))
          context.steps[id] = states[id]!.expressionValue
          changed = true
        case .fail(_, let failure):
          states[id] = StepSnapshot(status: .failed, attempt: max(states[id]?.attempt ?? 1, 1), error: failure)
          context.steps[id] = states[id]!.expressionValue
          changed = true
        }
      }
    }
    return Plan(actions: actions, outcome: self.outcome(states: states, context: context))
  }

  /// What `steps.*` evaluates to: the workflow's steps (foreach iterations are not steps).
  public func expressionSteps(_ snapshots: [String: StepSnapshot]) -> [String: JSONValue] {
    snapshots.filter { self.workflow.steps[$0.key] != nil }.mapValues(\.expressionValue)
  }

  /// Iteration `index` of foreach step `step` over `item`: its inner step's `when` decides
  /// whether it runs, and its input is evaluated with `item` and `index` in scope. `context`
  /// carries the run's steps (``expressionSteps(_:)``).
  public func iteration(of step: CompiledWorkflow.CompiledStep, index: Int, item: JSONValue, context baseContext: ExpressionContext) -> StepAction {
    let id = CompiledWorkflow.iterationID(step.id, index)
    guard let inner = step.foreach?.step else {
      return .fail(id, StepFailure("\(step.id): not a foreach step", errorClass: .platform, nonRetryable: true))
    }
    var context = baseContext
    context.item = item
    context.index = index
    do {
      if let when = inner.when, !(try when.evaluate(in: context).isTruthy) {
        return .skip(id, reason: "when was false")
      }
      return .schedule(id, input: try self.resolveInput(of: inner, context: context))
    } catch {
      return .fail(id, StepFailure("\(id): \(error)", errorClass: .user, type: "expression", nonRetryable: true))
    }
  }

  private func isSatisfied(_ state: StepSnapshot, step id: String) -> Bool {
    switch state.status {
    case .completed, .skipped: true
    case .failed, .timedOut: self.workflow.steps[id]?.allowFailure ?? false
    default: false
    }
  }

  private func decide(
    step: CompiledWorkflow.CompiledStep,
    dependencies: [(String, StepSnapshot)],
    states: [String: StepSnapshot],
    context: ExpressionContext
  ) -> StepAction {
    if !dependencies.isEmpty, dependencies.allSatisfy({ $0.1.status == .skipped }) {
      return .skip(step.id, reason: "all dependencies were skipped")
    }
    if let gate = step.gatedBy, let gateState = states[gate] {
      if gateState.status == .skipped { return .skip(step.id, reason: "switch '\(gate)' was skipped") }
      if case .string(let branch) = gateState.output?["branch"] ?? .null, !self.branch(branch, of: gate, includes: step.id) {
        return .skip(step.id, reason: "switch '\(gate)' chose '\(branch)'")
      }
    }
    do {
      if let when = step.when, !(try when.evaluate(in: context).isTruthy) {
        return .skip(step.id, reason: "when was false")
      }
      return .schedule(step.id, input: try self.resolveInput(of: step, context: context))
    } catch {
      return .fail(step.id, StepFailure("\(step.id): \(error)", errorClass: .user, type: "expression", nonRetryable: true))
    }
  }

  private func branch(_ name: String, of gate: String, includes id: String) -> Bool {
    guard let gateStep = self.workflow.steps[gate] else { return true }
    if name == "default" { return gateStep.defaultSteps.contains(id) }
    return gateStep.cases.first { $0.name == name }?.steps.contains(id) ?? false
  }

  /// The input an attempt runs with: expressions evaluated, plus what the type decides now
  /// (a switch's branch, a sleep's wake-up time, a fail step's message).
  public func resolveInput(of step: CompiledWorkflow.CompiledStep, context: ExpressionContext) throws(ExpressionError) -> JSONValue {
    switch step.type {
    case .noop:
      return .object([:])
    case .switch:
      for switchCase in step.cases where try switchCase.condition.evaluate(in: context).isTruthy {
        return .object(["branch": .string(switchCase.name)])
      }
      return .object(["branch": "default"])
    case .sleep:
      let wake: Date
      if let duration = step.sleepDuration {
        wake = context.now.addingTimeInterval(duration.seconds)
      } else if let until = step.sleepUntil {
        guard case .string(let text) = try until.evaluate(in: context), let date = Timestamps.parse(text) else {
          throw ExpressionError("sleep.until must yield an RFC 3339 timestamp")
        }
        wake = date
      } else {
        wake = context.now
      }
      return .object(["wake_at": .string(Timestamps.format(wake))])
    case .fail:
      let message = try step.failMessage?.evaluate(in: context).interpolated
        ?? (step.proto.fail.message.isEmpty ? "step '\(step.id)' failed" : step.proto.fail.message)
      return .object([
        "message": .string(message),
        "error_class": .string(StepFailure.ErrorClass(step.proto.fail.errorClass).rawValue),
        "non_retryable": .bool(step.proto.fail.nonRetryable),
      ])
    case .http:
      return try HTTPStepSpec.input(of: step, context: context)
    case .subworkflow:
      return [
        "workflow": .string(step.proto.subworkflow.workflowName),
        "version": .number(Double(step.proto.subworkflow.workflowVersion)),
        "input": try step.input.evaluatingTemplates(in: context),
      ]
    case .foreach:
      guard let foreach = step.foreach else { return .object(["items": .array([])]) }
      guard case .array(let items) = try foreach.items.evaluate(in: context) else {
        throw ExpressionError("foreach.items must yield a list")
      }
      guard items.count <= CompiledWorkflow.ForEach.maximumItems else {
        throw ExpressionError("foreach.items yielded \(items.count) elements; at most \(CompiledWorkflow.ForEach.maximumItems) are allowed")
      }
      return .object(["items": .array(items)])
    case .waitSignal, .approval:
      var input: [String: JSONValue] = ["signal": .string(step.signalName ?? step.id)]
      if let timeout = step.signalTimeout {
        input["timeout_at"] = .string(Timestamps.format(context.now.addingTimeInterval(timeout.seconds)))
      }
      input["on_timeout"] = step.signalTimeoutContinues ? "continue" : "fail"
      if step.type == .approval {
        let prompt = step.proto.approval.prompt
        input["prompt"] = .string(prompt.contains("${") ? try Template(prompt).evaluate(in: context).interpolated : prompt)
        input["approvers"] = .array(step.proto.approval.approvers.map(JSONValue.string))
        input["continue_on_reject"] = .bool(step.proto.approval.continueOnReject)
      }
      return .object(input)
    default:
      return try step.input.evaluatingTemplates(in: context)
    }
  }

  private func outcome(states: [String: StepSnapshot], context: ExpressionContext) -> Outcome {
    for id in self.workflow.order {
      guard let state = states[id], state.status == .failed || state.status == .timedOut,
        self.workflow.steps[id]?.allowFailure == false
      else { continue }
      return .failed(stepID: id, failure: state.error ?? StepFailure("step '\(id)' failed", errorClass: .platform))
    }
    guard self.workflow.order.allSatisfy({ states[$0]?.status.isTerminal == true }) else { return .running }
    do {
      return .completed(output: try self.workflow.output.evaluatingTemplates(in: context))
    } catch {
      return .failed(stepID: nil, failure: StepFailure("output: \(error)", errorClass: .user, type: "expression", nonRetryable: true))
    }
  }
}

extension StepFailure.ErrorClass {
  /// From the API's error class (unspecified: user).
  public init(_ proto: MaestroProtos.Maestro_Common_V1_ErrorClass) {
    switch proto {
    case .platform: self = .platform
    case .timeout: self = .timeout
    default: self = .user
    }
  }
}

