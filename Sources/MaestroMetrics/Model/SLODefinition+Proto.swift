import Foundation
import MaestroCore
import MaestroProtos
import SwiftProtobuf

extension SLODefinition {
  /// The longest SLO window (the proto's contract).
  static let maximumWindow: Duration = .seconds(90 * 86_400)
  /// `[a-z0-9][a-z0-9._-]{0,127}`: SLO, rule and receiver names.
  static func isValidName(_ name: String) -> Bool {
    (try? /^[a-z0-9][a-z0-9._-]{0,127}$/.wholeMatch(in: name)) != nil
  }

  /// Validates `slo` and converts it; bad input names the field.
  init(proto slo: Maestro_Metrics_V1_SLO) throws(MaestroError) {
    guard Self.isValidName(slo.name) else {
      throw .invalidArgument(field: "slo.name", "must match [a-z0-9][a-z0-9._-]{0,127}, got '\(slo.name.prefix(64))'")
    }
    guard slo.description_p.count <= 1024 else { throw .invalidArgument(field: "slo.description", "at most 1024 characters") }
    guard slo.hasSli else { throw .invalidArgument(field: "slo.sli", "is required") }
    let sli = slo.sli
    var filter = SeriesFilter()
    switch sli.filter.kind {
    case .unspecified: filter.kind = nil
    case .run: filter.kind = .run
    case .step: filter.kind = .step
    case .request: filter.kind = .request
    case .UNRECOGNIZED(let value): throw .invalidArgument(field: "slo.sli.filter.kind", "unknown kind \(value)")
    }
    filter.workflow = sli.filter.workflow
    filter.route = sli.filter.route
    filter.stepID = sli.filter.stepID
    for (field, value) in [("workflow", filter.workflow), ("route", filter.route), ("step_id", filter.stepID)] where value.count > 256 {
      throw .invalidArgument(field: "slo.sli.filter.\(field)", "at most 256 characters")
    }
    let good: GoodCondition
    switch sli.goodCondition {
    case .succeeded: good = .succeeded
    case .withinSla: good = .withinSLA
    case .notServerError: good = .notServerError
    case .latencyBelowThreshold:
      let milliseconds = sli.latencyThreshold.milliseconds
      guard sli.hasLatencyThreshold, LatencyHistogram.bucketsAtOrBelow(thresholdMilliseconds: milliseconds) != nil else {
        throw .invalidArgument(field: "slo.sli.latency_threshold", "must be one of the histogram bounds (ms): \(LatencyHistogram.boundsText)")
      }
      good = .latencyBelow(milliseconds: milliseconds)
    case .unspecified, .UNRECOGNIZED:
      throw .invalidArgument(field: "slo.sli.good_condition", "is required (SUCCEEDED, WITHIN_SLA, LATENCY_BELOW_THRESHOLD or NOT_SERVER_ERROR)")
    }
    guard slo.objectivePercent > 0, slo.objectivePercent < 100 else {
      throw .invalidArgument(field: "slo.objective_percent", "must be between 0 and 100 exclusive, got \(slo.objectivePercent)")
    }
    var window: Duration = .seconds(30 * 86_400)
    if slo.hasWindow {
      window = .seconds(slo.window.seconds)
      guard window >= .seconds(3600), window <= Self.maximumWindow, slo.window.nanos == 0 else {
        throw .invalidArgument(field: "slo.window", "must be whole seconds between 1 h and 90 d")
      }
    }
    var alerting = AlertingPolicy(disabled: slo.alerting.disabled, labels: slo.alerting.labels, annotations: slo.alerting.annotations)
    for (index, rule) in slo.alerting.windows.enumerated() {
      let field = "slo.alerting.windows[\(index)]"
      guard Self.isValidName(rule.name) else { throw .invalidArgument(field: "\(field).name", "must match [a-z0-9][a-z0-9._-]{0,127}") }
      guard let severity = Severity(proto: rule.severity) else { throw .invalidArgument(field: "\(field).severity", "is required") }
      guard rule.burnRate > 0, rule.burnRate.isFinite else { throw .invalidArgument(field: "\(field).burn_rate", "must be positive") }
      let long = Duration.seconds(rule.longWindow.seconds)
      let short = Duration.seconds(rule.shortWindow.seconds)
      guard long >= .seconds(60), long <= window else { throw .invalidArgument(field: "\(field).long_window", "must be between 1 m and the SLO window") }
      guard short >= .seconds(60), short <= long else { throw .invalidArgument(field: "\(field).short_window", "must be between 1 m and long_window") }
      guard rule.forDuration.seconds >= 0 else { throw .invalidArgument(field: "\(field).for_duration", "must not be negative") }
      guard !alerting.rules.contains(where: { $0.name == rule.name }) else { throw .invalidArgument(field: "\(field).name", "'\(rule.name)' is used twice") }
      alerting.rules.append(BurnRateRule(name: rule.name, severity: severity, burnRate: rule.burnRate, longWindow: long, shortWindow: short, forDuration: .seconds(rule.forDuration.seconds)))
    }
    try Self.checkLabels(slo.labels, field: "slo.labels")
    try Self.checkLabels(slo.alerting.labels, field: "slo.alerting.labels")
    self.init(
      name: slo.name, description: slo.description_p, filter: filter, good: good, excludeCancelled: sli.excludeCancelled,
      objective: (slo.objectivePercent / 100 * 1e12).rounded() / 1e12, window: window, alerting: alerting, labels: slo.labels
    )
  }

  static func checkLabels(_ labels: [String: String], field: String) throws(MaestroError) {
    guard labels.count <= 32 else { throw .invalidArgument(field: field, "at most 32 labels") }
    for (name, value) in labels {
      guard (try? /^[a-zA-Z_][a-zA-Z0-9_]{0,62}$/.wholeMatch(in: name)) != nil else {
        throw .invalidArgument(field: field, "label name '\(name.prefix(64))' must match [a-zA-Z_][a-zA-Z0-9_]*")
      }
      guard value.count <= 256 else { throw .invalidArgument(field: field, "label '\(name)' is longer than 256 characters") }
    }
  }

  /// The proto form (without `meta`).
  var proto: Maestro_Metrics_V1_SLO {
    .with {
      $0.name = self.name
      $0.description_p = self.description
      $0.sli = .with { sli in
        sli.filter = .with {
          $0.kind = self.filter.kind?.proto ?? .unspecified
          $0.workflow = self.filter.workflow
          $0.route = self.filter.route
          $0.stepID = self.filter.stepID
        }
        switch self.good {
        case .succeeded: sli.goodCondition = .succeeded
        case .withinSLA: sli.goodCondition = .withinSla
        case .notServerError: sli.goodCondition = .notServerError
        case .latencyBelow(let milliseconds):
          sli.goodCondition = .latencyBelowThreshold
          sli.latencyThreshold = .init(milliseconds: milliseconds)
        }
        sli.excludeCancelled = self.excludeCancelled
      }
      $0.objectivePercent = (self.objective * 100 * 1e9).rounded() / 1e9
      $0.window = .init(seconds: Int64(self.window.seconds))
      $0.alerting = .with { policy in
        policy.disabled = self.alerting.disabled
        policy.labels = self.alerting.labels
        policy.annotations = self.alerting.annotations
        policy.windows = self.alerting.rules.map { rule in
          .with {
            $0.name = rule.name
            $0.severity = rule.severity.proto
            $0.burnRate = rule.burnRate
            $0.longWindow = .init(seconds: Int64(rule.longWindow.seconds))
            $0.shortWindow = .init(seconds: Int64(rule.shortWindow.seconds))
            $0.forDuration = .init(seconds: Int64(rule.forDuration.seconds))
          }
        }
      }
      $0.labels = self.labels
    }
  }
}

extension SLODefinition.Severity {
  init?(proto: Maestro_Metrics_V1_AlertSeverity) {
    switch proto {
    case .critical: self = .critical
    case .warning: self = .warning
    case .info: self = .info
    case .unspecified, .UNRECOGNIZED: return nil
    }
  }

  var proto: Maestro_Metrics_V1_AlertSeverity {
    switch self {
    case .critical: .critical
    case .warning: .warning
    case .info: .info
    }
  }
}

extension OutcomeKindName {
  var proto: Maestro_Metrics_V1_OutcomeKind {
    switch self {
    case .run: .run
    case .step: .step
    case .request: .request
    }
  }
}

extension LatencyHistogram {
  static var boundsText: String {
    self.upperBoundsMilliseconds.map { $0 == $0.rounded() ? String(Int64($0)) : String($0) }.joined(separator: ", ")
  }
}

extension Google_Protobuf_Duration {
  var milliseconds: Double { Double(self.seconds) * 1000 + Double(self.nanos) / 1e6 }

  init(milliseconds: Double) {
    let whole = (milliseconds / 1000).rounded(.down)
    self.init(seconds: Int64(whole), nanos: Int32(((milliseconds - whole * 1000) * 1e6).rounded()))
  }
}
