/// An SLO: an SLI (good events / total events over a series filter), an objective and a rolling
/// window, plus the burn-rate alerting policy evaluated against it.
public struct SLODefinition: Sendable, Hashable {
  /// Which series an SLI counts; nil/empty fields match everything.
  public struct SeriesFilter: Sendable, Hashable {
    public var kind: OutcomeKindName?
    public var workflow: String = ""
    public var route: String = ""
    public var stepID: String = ""

    public init(kind: OutcomeKindName? = nil, workflow: String = "", route: String = "", stepID: String = "") {
      self.kind = kind
      self.workflow = workflow
      self.route = route
      self.stepID = stepID
    }
  }

  /// What makes an event good.
  public enum GoodCondition: Sendable, Hashable {
    case succeeded
    case withinSLA
    /// Duration at or below a histogram bound (milliseconds).
    case latencyBelow(milliseconds: Double)
    case notServerError
  }

  public enum Severity: String, Sendable, Hashable, CaseIterable, Comparable {
    case critical
    case warning
    case info

    /// critical < warning < info, so the most severe sorts first.
    public static func < (lhs: Self, rhs: Self) -> Bool {
      Self.allCases.firstIndex(of: lhs)! < Self.allCases.firstIndex(of: rhs)!
    }
  }

  /// A multi-window burn-rate rule: fires when the burn rate exceeds `burnRate` over both windows.
  public struct BurnRateRule: Sendable, Hashable {
    public var name: String
    public var severity: Severity
    public var burnRate: Double
    public var longWindow: Duration
    public var shortWindow: Duration
    public var forDuration: Duration

    public init(name: String, severity: Severity, burnRate: Double, longWindow: Duration, shortWindow: Duration, forDuration: Duration = .zero) {
      self.name = name
      self.severity = severity
      self.burnRate = burnRate
      self.longWindow = longWindow
      self.shortWindow = shortWindow
      self.forDuration = forDuration
    }
  }

  public struct AlertingPolicy: Sendable, Hashable {
    public var disabled = false
    /// Empty = ``BurnRateRule/defaults``.
    public var rules: [BurnRateRule] = []
    public var labels: [String: String] = [:]
    public var annotations: [String: String] = [:]

    public init(disabled: Bool = false, rules: [BurnRateRule] = [], labels: [String: String] = [:], annotations: [String: String] = [:]) {
      self.disabled = disabled
      self.rules = rules
      self.labels = labels
      self.annotations = annotations
    }

    /// The rules in force: the configured ones, else the SRE Workbook defaults.
    public var effectiveRules: [BurnRateRule] { self.rules.isEmpty ? BurnRateRule.defaults : self.rules }
  }

  public var name: String
  public var description: String = ""
  public var filter: SeriesFilter
  public var good: GoodCondition
  /// Count CANCELLED/SKIPPED events as neither good nor bad.
  public var excludeCancelled: Bool = false
  /// A fraction: 99.9 % is 0.999.
  public var objective: Double
  public var window: Duration = .seconds(30 * 86_400)
  public var alerting = AlertingPolicy()
  public var labels: [String: String] = [:]

  public init(
    name: String, description: String = "", filter: SeriesFilter, good: GoodCondition, excludeCancelled: Bool = false,
    objective: Double, window: Duration = .seconds(30 * 86_400), alerting: AlertingPolicy = AlertingPolicy(), labels: [String: String] = [:]
  ) {
    self.name = name
    self.description = description
    self.filter = filter
    self.good = good
    self.excludeCancelled = excludeCancelled
    self.objective = objective
    self.window = window
    self.alerting = alerting
    self.labels = labels
  }

  /// The distinct windows the status reports burn rates for (every rule's long and short window),
  /// shortest first.
  public var statusWindows: [Duration] {
    guard !self.alerting.disabled else { return BurnRateRule.defaults.flatMap { [$0.longWindow, $0.shortWindow] }.uniqueSorted() }
    return self.alerting.effectiveRules.flatMap { [$0.longWindow, $0.shortWindow] }.uniqueSorted()
  }

  /// Good and total events of `counts` under this SLI.
  public func goodAndTotal(_ counts: OutcomeCounts) -> (good: Int64, total: Int64) {
    switch self.good {
    case .succeeded:
      return (counts.success, self.excludeCancelled ? counts.success + counts.failed : counts.total)
    case .notServerError:
      return self.excludeCancelled ? (counts.success, counts.success + counts.failed) : (counts.total - counts.failed, counts.total)
    case .withinSLA:
      return (counts.slaMet, counts.slaMet + counts.slaMissed)
    case .latencyBelow(let milliseconds):
      let buckets = LatencyHistogram.bucketsAtOrBelow(thresholdMilliseconds: milliseconds) ?? 0
      return (counts.latency.count(inFirst: buckets), counts.total)
    }
  }
}

extension SLODefinition.BurnRateRule {
  /// The Google SRE Workbook's multi-window multi-burn-rate rules for a 30-day window: page on
  /// 14.4× over 1 h and 5 m or 6× over 6 h and 30 m; ticket on 3× over 1 d and 2 h or 1× over
  /// 3 d and 6 h.
  public static let defaults: [Self] = [
    Self(name: "page-fast", severity: .critical, burnRate: 14.4, longWindow: .seconds(3600), shortWindow: .seconds(300)),
    Self(name: "page-slow", severity: .critical, burnRate: 6, longWindow: .seconds(6 * 3600), shortWindow: .seconds(1800)),
    Self(name: "ticket-fast", severity: .warning, burnRate: 3, longWindow: .seconds(86_400), shortWindow: .seconds(2 * 3600)),
    Self(name: "ticket-slow", severity: .warning, burnRate: 1, longWindow: .seconds(3 * 86_400), shortWindow: .seconds(6 * 3600)),
  ]
}

extension Array where Element == Duration {
  func uniqueSorted() -> [Duration] { Array(Set(self)).sorted() }
}

extension Duration {
  /// Whole and fractional seconds.
  public var seconds: Double {
    let parts = self.components
    return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
  }
}
