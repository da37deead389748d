public import MaestroProtos

/// When a failed step attempt is tried again, and after how long.
///
/// Attempt n+1 waits `min(initial × multiplier^(n-1), max)` varied by ±`jitter`. A failure is
/// retried only while `maxAttempts` allows it and the failure's class still has budget.
public struct RetryPolicy: Sendable, Hashable {
  /// Total attempts including the first.
  public var maxAttempts: Int
  public var initialBackoff: Duration
  public var multiplier: Double
  public var maxBackoff: Duration
  /// 0…1: the fraction of random variation applied to each delay.
  public var jitter: Double
  /// Retries allowed per error class; absent = limited only by `maxAttempts`.
  public var budgets: [StepFailure.ErrorClass: Int]
  public var nonRetryableTypes: Set<String>

  /// The platform default: 3 attempts, 1 s doubling to at most 5 min, ±20 %.
  public static let platformDefault = RetryPolicy(
    maxAttempts: 3, initialBackoff: .seconds(1), multiplier: 2, maxBackoff: .seconds(300), jitter: 0.2,
    budgets: [:], nonRetryableTypes: []
  )

  public init(
    maxAttempts: Int,
    initialBackoff: Duration,
    multiplier: Double,
    maxBackoff: Duration,
    jitter: Double,
    budgets: [StepFailure.ErrorClass: Int],
    nonRetryableTypes: Set<String>
  ) {
    self.maxAttempts = maxAttempts
    self.initialBackoff = initialBackoff
    self.multiplier = multiplier
    self.maxBackoff = maxBackoff
    self.jitter = jitter
    self.budgets = budgets
    self.nonRetryableTypes = nonRetryableTypes
  }

  /// From the proto message; unset fields take the platform defaults.
  public init(_ proto: Maestro_Workflow_V1_RetryPolicy) {
    let base = Self.platformDefault
    self.maxAttempts = proto.maxAttempts > 0 ? Int(proto.maxAttempts) : base.maxAttempts
    self.initialBackoff = proto.hasInitialBackoff ? proto.initialBackoff.swiftDuration : base.initialBackoff
    self.multiplier = proto.backoffMultiplier > 0 ? proto.backoffMultiplier : base.multiplier
    self.maxBackoff = proto.hasMaxBackoff ? proto.maxBackoff.swiftDuration : base.maxBackoff
    self.jitter = proto.jitter > 0 ? proto.jitter : base.jitter
    var budgets: [StepFailure.ErrorClass: Int] = [:]
    if proto.hasMaxUserErrorRetries { budgets[.user] = Int(proto.maxUserErrorRetries) }
    if proto.hasMaxPlatformErrorRetries { budgets[.platform] = Int(proto.maxPlatformErrorRetries) }
    if proto.hasMaxTimeoutRetries { budgets[.timeout] = Int(proto.maxTimeoutRetries) }
    self.budgets = budgets
    self.nonRetryableTypes = Set(proto.nonRetryableErrorTypes)
  }

  /// The decision after attempt `attempt` failed with `failure`, the `failuresOfClass`-th
  /// failure of its class (counting this one).
  public enum Decision: Sendable, Hashable {
    case retry(after: Duration)
    case giveUp(reason: String)
  }

  /// - Parameter random: a number in 0..<1 that picks the jitter (injected for tests).
  public func decide(attempt: Int, failure: StepFailure, failuresOfClass: Int, random: Double) -> Decision {
    if failure.errorClass == .cancelled { return .giveUp(reason: "cancelled") }
    if failure.nonRetryable { return .giveUp(reason: "the failure is not retryable") }
    if !failure.type.isEmpty, self.nonRetryableTypes.contains(failure.type) {
      return .giveUp(reason: "failure type '\(failure.type)' is not retryable")
    }
    if attempt >= self.maxAttempts { return .giveUp(reason: "all \(self.maxAttempts) attempts used") }
    if let budget = self.budgets[failure.errorClass], failuresOfClass > budget {
      return .giveUp(reason: "the \(failure.errorClass.rawValue)-error retry budget (\(budget)) is used")
    }
    return .retry(after: self.delay(afterAttempt: attempt, random: random))
  }

  /// The wait before attempt `attempt + 1`.
  public func delay(afterAttempt attempt: Int, random: Double) -> Duration {
    let base = self.initialBackoff.seconds * pow(self.multiplier, Double(max(0, attempt - 1)))
    let capped = min(base, self.maxBackoff.seconds)
    let varied = capped * (1 + self.jitter * (2 * random - 1))
    return .milliseconds(Int64(max(0, varied) * 1000))
  }
}

extension Duration {
  /// The duration in seconds, as a Double.
  public var seconds: Double {
    Double(self.components.seconds) + Double(self.components.attoseconds) / 1e18
  }
}

private func pow(_ base: Double, _ exponent: Double) -> Double {
  var result = 1.0
  var remaining = Int(min(exponent, 1000))
  while remaining > 0 {
    result *= base
    if !result.isFinite { return .greatestFiniteMagnitude }
    remaining -= 1
  }
  return result
}
