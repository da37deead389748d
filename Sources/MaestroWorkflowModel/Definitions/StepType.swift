/// The step types a definition may use.
public enum StepType: String, Sendable, CaseIterable {
  /// Output = the evaluated input.
  case echo
  /// Does nothing; output `{}`.
  case noop
  /// A durable timer.
  case sleep
  /// Output = the evaluated input (an expression-built structure).
  case transform
  /// Chooses one branch; output `{"branch": name}`.
  case `switch`
  /// Fails, with a message and error class.
  case fail
  // Executed outside the engine's built-ins; arrive with the workers issue.
  case task, http, subworkflow, foreach
  /// Waits durably for a named signal (SignalRun); its payload becomes the output.
  case waitSignal = "wait_signal"
  /// Human-in-the-loop approval, a signal carrying `{"approved", "comment"}`.
  case approval

  /// Types this engine version executes.
  public static let supported: Set<StepType> = [.echo, .noop, .sleep, .transform, .switch, .fail, .waitSignal, .approval, .http, .task, .subworkflow, .foreach]
}
