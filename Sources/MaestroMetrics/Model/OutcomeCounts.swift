/// What an outcome series counts: runs and steps of a workflow, or requests of a route.
public enum OutcomeKindName: String, Sendable, Hashable, CaseIterable {
  case run
  case step
  case request
}

/// How one event is counted in an aggregate row.
public enum OutcomeClass: Sendable, Hashable {
  /// status SUCCEEDED; a request that was not a 5xx.
  case success
  /// FAILED or TIMED_OUT; a request that was a 5xx.
  case failed(timedOut: Bool)
  /// CANCELLED or SKIPPED: neither good nor bad for the default SLIs.
  case cancelled
}

/// One aggregate row (a minute, hour or day of a series, or a sum of rows): the counters of the
/// `series_minute` / `series_hour` / `series_day` tables.
public struct OutcomeCounts: Sendable, Hashable {
  public var total: Int64 = 0
  public var success: Int64 = 0
  /// Includes timed-out events.
  public var failed: Int64 = 0
  public var cancelled: Int64 = 0
  public var timedOut: Int64 = 0
  public var slaMet: Int64 = 0
  public var slaMissed: Int64 = 0
  public var sumDurationMilliseconds: Int64 = 0
  public var latency = LatencyHistogram()

  public init() {}

  public mutating func record(_ outcome: OutcomeClass, durationMilliseconds: Double, slaMet: Bool?) {
    self.total += 1
    switch outcome {
    case .success: self.success += 1
    case .failed(let timedOut):
      self.failed += 1
      if timedOut { self.timedOut += 1 }
    case .cancelled: self.cancelled += 1
    }
    switch slaMet {
    case true?: self.slaMet += 1
    case false?: self.slaMissed += 1
    case nil: break
    }
    self.sumDurationMilliseconds += Int64(durationMilliseconds.rounded())
    self.latency.record(milliseconds: durationMilliseconds)
  }

  public mutating func merge(_ other: OutcomeCounts) {
    self.total += other.total
    self.success += other.success
    self.failed += other.failed
    self.cancelled += other.cancelled
    self.timedOut += other.timedOut
    self.slaMet += other.slaMet
    self.slaMissed += other.slaMissed
    self.sumDurationMilliseconds += other.sumDurationMilliseconds
    self.latency.merge(other.latency)
  }
}
