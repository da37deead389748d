import Foundation

extension CompiledWorkflow.CompiledStep {
  /// wait_signal / approval: the signal the step waits for (default: the step id).
  public var signalName: String? {
    switch self.type {
    case .waitSignal: self.proto.waitSignal.signalName.isEmpty ? self.id : self.proto.waitSignal.signalName
    case .approval: self.proto.approval.signalName.isEmpty ? self.id : self.proto.approval.signalName
    default: nil
    }
  }

  /// wait_signal / approval: how long the step waits for its signal (nil: until the run's
  /// own timeout).
  public var signalTimeout: Duration? {
    switch self.type {
    case .waitSignal: self.proto.waitSignal.hasTimeout ? self.proto.waitSignal.timeout.swiftDuration : nil
    case .approval: self.proto.approval.hasTimeout ? self.proto.approval.timeout.swiftDuration : nil
    default: nil
    }
  }

  /// wait_signal / approval: a missed signal completes the step with `{"timed_out": true}`
  /// instead of failing it.
  public var signalTimeoutContinues: Bool {
    switch self.type {
    case .waitSignal: self.proto.waitSignal.onTimeout == .continue
    case .approval: self.proto.approval.onTimeout == .continue
    default: false
    }
  }
}

/// What a signal does to the step waiting for it: pure, so the engine and the tests share it.
public enum SignalDelivery {
  /// The waiting step's result for a signal with `payload` sent by `sender`.
  ///   wait_signal: completes with the payload.
  ///   approval: completes with {"approved", "comment", "approver"} when approved (or when the
  ///   step continues on rejection); a rejection otherwise fails it as a non-retryable user error.
  public static func result(of step: CompiledWorkflow.CompiledStep, payload: JSONValue, sender: String) -> BuiltinExecutor.Result {
    guard step.type == .approval else { return .completed(output: payload) }
    let approved = payload["approved"] == .bool(true)
    let comment = payload["comment"] ?? .string("")
    let output: JSONValue = ["approved": .bool(approved), "comment": comment, "approver": .string(sender)]
    if approved || step.proto.approval.continueOnReject { return .completed(output: output) }
    return .failed(StepFailure("approval '\(step.id)' was rejected by \(sender)", errorClass: .user, type: "approval", nonRetryable: true))
  }

  /// The waiting step's result when its signal did not arrive in time: a non-retryable
  /// timeout (waiting again would only move the deadline), or `{"timed_out": true}`.
  public static func timeout(of step: CompiledWorkflow.CompiledStep) -> BuiltinExecutor.Result {
    if step.signalTimeoutContinues {
      return .completed(output: step.type == .approval ? ["approved": false, "timed_out": true] : ["timed_out": true])
    }
    return .failed(StepFailure("step '\(step.id)' received no signal '\(step.signalName ?? step.id)' in time", errorClass: .timeout, type: step.type.rawValue, nonRetryable: true))
  }
}
