public import Foundation
import MaestroCore

/// When a schedule fires: the union of its cron expressions (in ``zone``) and its fixed
/// intervals (absolute, counted from the Unix epoch), within `[start, end)`. Fire times are whole
/// Unix seconds; jitter is applied on top by ``Jitter`` and never changes the nominal time.
public struct FireSpec: Sendable, Hashable {
  /// Fixed interval: fires at every `offset + k * every` (Unix seconds).
  public struct Interval: Sendable, Hashable {
    public var every: Int64
    public var offset: Int64

    public init(every: Int64, offset: Int64 = 0) {
      self.every = every
      self.offset = offset
    }

    /// The first fire strictly after `instant`.
    public func next(after instant: Int64) -> Int64 {
      let k = (instant - self.offset).floorDivided(by: self.every) + 1
      return self.offset + k * self.every
    }
  }

  public var crons: [CronExpression]
  public var intervals: [Interval]
  public var zone: ZoneRules
  /// First possible fire (inclusive), Unix seconds.
  public var start: Int64?
  /// Fires strictly before this, Unix seconds.
  public var end: Int64?
  /// Each fire is delayed by a deterministic amount in `[0, jitter)` milliseconds.
  public var jitterMilliseconds: Int64

  public init(crons: [CronExpression] = [], intervals: [Interval] = [], zone: ZoneRules = .utc, start: Int64? = nil, end: Int64? = nil, jitterMilliseconds: Int64 = 0) {
    self.crons = crons
    self.intervals = intervals
    self.zone = zone
    self.start = start
    self.end = end
    self.jitterMilliseconds = jitterMilliseconds
  }

  /// Most cron expressions and intervals per schedule.
  public static let maximumEntries = 32

  /// Parses and validates the textual parts of a spec, reporting every problem at once (each
  /// ``SpecError`` carries its field path, e.g. `cron_expressions[1]`).
  /// `cronTexts` may hold `@every <duration>` entries, which become intervals.
  public static func parse(
    cronTexts: [String], intervals: [(every: Duration, offset: Duration)], timeZone: String,
    start: Date?, end: Date?, jitter: Duration
  ) -> Result<FireSpec, SpecErrors> {
    var errors: [SpecError] = []
    var spec = FireSpec()
    if cronTexts.isEmpty && intervals.isEmpty {
      errors.append(SpecError("needs at least one cron expression or interval", field: "cron_expressions"))
    }
    if cronTexts.count + intervals.count > Self.maximumEntries {
      errors.append(SpecError("at most \(Self.maximumEntries) cron expressions and intervals in all", field: "cron_expressions"))
    }
    for (index, text) in cronTexts.enumerated() {
      let field = "cron_expressions[\(index)]"
      let trimmed = text.trimmingSpaces()
      if trimmed.lowercased().hasPrefix("@every") {
        let rest = String(trimmed.dropFirst("@every".count))
        do {
          let every = try DurationParser.parse(rest)
          if let interval = Self.interval(every: every, offset: .zero, field: field, errors: &errors) { spec.intervals.append(interval) }
        } catch {
          errors.append(SpecError("@every needs a duration such as 90s, 5m or 1h30m (\(error.reason))", field: field))
        }
        continue
      }
      do {
        spec.crons.append(try CronExpression(parsing: trimmed))
      } catch {
        errors.append(SpecError(error.message, field: field))
      }
    }
    for (index, interval) in intervals.enumerated() {
      if let parsed = Self.interval(every: interval.every, offset: interval.offset, field: "intervals[\(index)]", errors: &errors) {
        spec.intervals.append(parsed)
      }
    }
    if let zone = ZoneRules(identifier: timeZone) {
      spec.zone = zone
    } else {
      errors.append(SpecError("'\(timeZone.prefix(64))' is not an IANA time zone name (e.g. Europe/Berlin, America/New_York, UTC)", field: "time_zone"))
    }
    if let start { spec.start = Int64(start.timeIntervalSince1970.rounded(.up)) }
    if let end { spec.end = Int64(end.timeIntervalSince1970.rounded(.up)) }
    if let s = spec.start, let e = spec.end, e <= s {
      errors.append(SpecError("must be after start_time", field: "end_time"))
    }
    if jitter < .zero {
      errors.append(SpecError("must not be negative", field: "jitter"))
    } else if jitter > .seconds(86_400) {
      errors.append(SpecError("must be at most 24h", field: "jitter"))
    } else {
      spec.jitterMilliseconds = jitter.milliseconds
    }
    return errors.isEmpty ? .success(spec) : .failure(SpecErrors(errors: errors))
  }

  private static func interval(every: Duration, offset: Duration, field: String, errors: inout [SpecError]) -> Interval? {
    let everyMs = every.milliseconds
    let offsetMs = offset.milliseconds
    guard everyMs >= 1000, everyMs % 1000 == 0 else {
      errors.append(SpecError("interval must be a whole number of seconds, at least 1s", field: field))
      return nil
    }
    guard offsetMs >= 0, offsetMs % 1000 == 0, offsetMs < everyMs else {
      errors.append(SpecError("offset must be whole seconds, ≥ 0 and shorter than the interval", field: field))
      return nil
    }
    return Interval(every: everyMs / 1000, offset: offsetMs / 1000)
  }

  /// The first nominal fire time strictly after `instant` (Unix seconds), or nil when the
  /// spec has no more fires (past `end`, or no cron expression matches within 10 years).
  public func nextFire(after instant: Int64) -> Int64? {
    let from = max(instant, (self.start ?? Int64.min + 1) - 1)
    var best: Int64?
    for interval in self.intervals {
      let candidate = interval.next(after: from)
      best = min(best ?? candidate, candidate)
    }
    for cron in self.crons {
      if let candidate = self.nextFire(of: cron, after: from) { best = min(best ?? candidate, candidate) }
    }
    if let best, let end = self.end, best >= end { return nil }
    return best
  }

  /// The next fire of one cron expression after `instant` under the zone's DST rules.
  func nextFire(of cron: CronExpression, after instant: Int64) -> Int64? {
    // Any civil time at or before the wall clock at `instant` maps to an instant ≤ `instant`.
    var civil = cron.nextMatch(after: self.zone.local(instant))
    // A repeated (fall-back) hour maps to its first occurrence, which can be ≤ instant: skip.
    for _ in 0..<100_000 {
      guard let current = civil else { return nil }
      let candidate = self.zone.instant(forLocal: current)
      if candidate > instant { return candidate }
      civil = cron.nextMatch(after: current)
    }
    return nil
  }

  /// Up to `count` nominal fire times strictly after `instant`.
  public func preview(after instant: Int64, count: Int) -> [Int64] {
    var times: [Int64] = []
    var cursor = instant
    while times.count < count, let next = self.nextFire(after: cursor) {
      times.append(next)
      cursor = next
    }
    return times
  }
}

/// Several spec problems, reported together.
public struct SpecErrors: Error, Sendable, CustomStringConvertible {
  public var errors: [SpecError]
  public var description: String { self.errors.map(\.description).joined(separator: "; ") }
}

extension Duration {
  /// Whole milliseconds (truncated).
  public var milliseconds: Int64 {
    let (seconds, attoseconds) = self.components
    return seconds * 1000 + attoseconds / 1_000_000_000_000_000
  }
}
