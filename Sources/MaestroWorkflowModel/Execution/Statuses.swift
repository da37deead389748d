/// A step's status as stored (`step_executions.status`).
public enum StepStatus: String, Sendable, Hashable, CaseIterable {
  case pending = "PENDING"
  /// Queued for an executor (possibly waiting out a retry backoff).
  case ready = "READY"
  case running = "RUNNING"
  /// Durably waiting: a timer, a signal, a child run.
  case waiting = "WAITING"
  case completed = "COMPLETED"
  case failed = "FAILED"
  case skipped = "SKIPPED"
  case cancelled = "CANCELLED"
  case timedOut = "TIMED_OUT"

  public var isTerminal: Bool {
    switch self {
    case .completed, .failed, .skipped, .cancelled, .timedOut: true
    case .pending, .ready, .running, .waiting: false
    }
  }

  /// Ready, running or waiting: an attempt is in flight.
  public var isActive: Bool { self == .ready || self == .running || self == .waiting }
}

/// A run's status as stored (`runs.status`).
public enum RunStatus: String, Sendable, Hashable, CaseIterable {
  /// Accepted, queued behind other runs by the run strategy.
  case queued = "QUEUED"
  case running = "RUNNING"
  case completed = "COMPLETED"
  case failed = "FAILED"
  case cancelled = "CANCELLED"
  case timedOut = "TIMED_OUT"

  public var isTerminal: Bool {
    switch self {
    case .queued, .running: false
    case .completed, .failed, .cancelled, .timedOut: true
    }
  }
}

/// The latest attempt of one step, as the planner sees it.
public struct StepSnapshot: Sendable, Hashable {
  public var status: StepStatus
  public var attempt: Int
  public var output: JSONValue?
  public var error: StepFailure?
  /// Failed attempts so far, by error class (for the per-class retry budgets).
  public var failuresByClass: [StepFailure.ErrorClass: Int]

  public init(
    status: StepStatus,
    attempt: Int,
    output: JSONValue? = nil,
    error: StepFailure? = nil,
    failuresByClass: [StepFailure.ErrorClass: Int] = [:]
  ) {
    self.status = status
    self.attempt = attempt
    self.output = output
    self.error = error
    self.failuresByClass = failuresByClass
  }

  /// What `steps.<id>` evaluates to in expressions.
  var expressionValue: JSONValue {
    var members: [String: JSONValue] = ["status": .string(self.status.rawValue), "attempt": .number(Double(self.attempt))]
    members["output"] = self.output ?? .null
    members["error"] = self.error?.json ?? .null
    return .object(members)
  }
}
