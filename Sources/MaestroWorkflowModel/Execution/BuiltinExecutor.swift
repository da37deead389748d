public import Foundation

/// Runs the built-in step types, which need nothing but their evaluated input.
public enum BuiltinExecutor {
  /// What an attempt of a built-in step did.
  public enum Result: Sendable, Hashable {
    case completed(output: JSONValue)
    case failed(StepFailure)
    /// A durable wait until the given time (a sleep).
    case wait(until: Date)
    /// A durable wait for the named signal (wait_signal, approval), until `timeoutAt` if set.
    case awaitSignal(name: String, timeoutAt: Date?)
    /// Start a child run of `workflow` (version 0: latest) with `input`, and wait for it.
    case startChild(workflow: String, version: Int, input: JSONValue)
    /// A foreach step starts its iterations and waits (WAITING) until they are done.
    case fanOut
  }

  public static func execute(type: StepType, input: JSONValue, now: Date) -> Result {
    switch type {
    case .echo, .transform, .switch:
      return .completed(output: input)
    case .noop:
      return .completed(output: .object([:]))
    case .fail:
      let message = input["message"].flatMap { if case .string(let text) = $0 { text } else { nil } } ?? "failed"
      let errorClass = input["error_class"].flatMap { if case .string(let raw) = $0 { StepFailure.ErrorClass(rawValue: raw) } else { nil } } ?? .user
      return .failed(StepFailure(message, errorClass: errorClass, type: "fail", nonRetryable: input["non_retryable"] == .bool(true)))
    case .sleep:
      guard case .string(let text) = input["wake_at"] ?? .null, let wake = Timestamps.parse(text) else {
        return .failed(StepFailure("sleep: no wake-up time", errorClass: .platform, nonRetryable: true))
      }
      return wake <= now ? .completed(output: .object(["woke_at": .string(text)])) : .wait(until: wake)
    case .waitSignal, .approval:
      guard case .string(let name) = input["signal"] ?? .null, !name.isEmpty else {
        return .failed(StepFailure("\(type.rawValue): no signal name", errorClass: .platform, nonRetryable: true))
      }
      let timeoutAt: Date? = if case .string(let text) = input["timeout_at"] ?? .null { Timestamps.parse(text) } else { nil }
      return .awaitSignal(name: name, timeoutAt: timeoutAt)
    case .http:
      // Needs the network: the engine's HTTP executor runs it, never this pure function.
      return .failed(StepFailure("http steps run in the engine's HTTP executor", errorClass: .platform, nonRetryable: true))
    case .subworkflow:
      guard case .string(let workflow) = input["workflow"] ?? .null, case .number(let version) = input["version"] ?? .null else {
        return .failed(StepFailure("subworkflow: no workflow", errorClass: .platform, nonRetryable: true))
      }
      return .startChild(workflow: workflow, version: Int(version), input: input["input"] ?? .object([:]))
    case .foreach:
      return .fanOut
    case .task:
      return .failed(StepFailure("step type '\(type.rawValue)' is not supported by this engine version", errorClass: .user, nonRetryable: true))
    }
  }
}
