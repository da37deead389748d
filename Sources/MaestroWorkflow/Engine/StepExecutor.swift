import Foundation
import MaestroWorkflowModel

/// Executes one claimed step attempt. The seam between the engine's bookkeeping and what a
/// step actually does.
protocol StepExecutor: Sendable {
  func execute(_ step: WorkflowEngine.ClaimedStep, now: Date) async -> BuiltinExecutor.Result
}

/// The built-in step types (echo, noop, transform, switch, sleep, fail).
struct BuiltinStepExecutor: StepExecutor {
  func execute(_ step: WorkflowEngine.ClaimedStep, now: Date) async -> BuiltinExecutor.Result {
    BuiltinExecutor.execute(type: StepType(rawValue: step.stepType) ?? .fail, input: step.input, now: now)
  }
}
