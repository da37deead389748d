public import MaestroCore
import MaestroProtos
import Yams

/// SLOs as code: OpenSLO v1 `kind: SLO` documents, with Maestro's SLI source under
/// `spec.indicator.spec.maestro` (OpenSLO leaves metric sources to the vendor):
///
/// ```yaml
/// apiVersion: openslo/v1
/// kind: SLO
/// metadata: {name: hello-world-availability, labels: {team: platform}}
/// spec:
///   description: hello-world runs succeed
///   timeWindow: [{duration: 30d, isRolling: true}]
///   objectives: [{target: 0.999}]          # or targetPercent: 99.9
///   indicator:
///     spec:
///       maestro: {kind: run, workflow: hello-world, good: succeeded, excludeCancelled: true}
///   alerting:                              # optional; default = SRE Workbook windows
///     labels: {team: platform}
///     windows: [{name: page-fast, severity: critical, burnRate: 14.4, longWindow: 1h, shortWindow: 5m}]
/// ```
///
/// A file may hold several documents (`---`).
extension SLODefinition {
  public static func parseOpenSLO(_ yaml: String, source: String = "yaml") throws(MaestroError) -> [SLODefinition] {
    let documents: [Any]
    do {
      documents = try Array(Yams.load_all(yaml: yaml)).compactMap { $0 }
    } catch {
      throw .invalidArgument(field: source, "is not valid YAML: \(error)")
    }
    var result: [SLODefinition] = []
    for (index, document) in documents.enumerated() {
      result.append(try Self.openSLO(document, field: documents.count > 1 ? "\(source)[\(index)]" : source))
    }
    return result
  }

  static func openSLO(_ document: Any, field: String) throws(MaestroError) -> SLODefinition {
    guard let root = document as? [String: Any] else { throw .invalidArgument(field: field, "must be a mapping") }
    guard (root["apiVersion"] as? String) == "openslo/v1", (root["kind"] as? String) == "SLO" else {
      throw .invalidArgument(field: "\(field).apiVersion", "expected apiVersion openslo/v1 and kind SLO")
    }
    let metadata = root["metadata"] as? [String: Any] ?? [:]
    let spec = root["spec"] as? [String: Any] ?? [:]
    let indicator = ((spec["indicator"] as? [String: Any])?["spec"] as? [String: Any])?["maestro"] as? [String: Any]
    guard let indicator else { throw .invalidArgument(field: "\(field).spec.indicator.spec.maestro", "is required") }

    var slo = Maestro_SLOBuilder()
    slo.name = metadata["name"] as? String ?? ""
    slo.labels = Self.stringMap(metadata["labels"])
    slo.description = spec["description"] as? String ?? ""
    if let windows = spec["timeWindow"] as? [[String: Any]], let first = windows.first {
      guard let text = first["duration"] as? String, let duration = try? DurationParser.parse(text) else {
        throw .invalidArgument(field: "\(field).spec.timeWindow[0].duration", "must be a duration such as 30d")
      }
      if let rolling = first["isRolling"] as? Bool, !rolling {
        throw .invalidArgument(field: "\(field).spec.timeWindow[0].isRolling", "only rolling windows are supported")
      }
      slo.window = duration
    }
    if let objectives = spec["objectives"] as? [[String: Any]], let first = objectives.first {
      if let target = Self.number(first["target"]) {
        slo.objectivePercent = target * 100
      } else if let percent = Self.number(first["targetPercent"]) {
        slo.objectivePercent = percent
      }
    }
    slo.kind = indicator["kind"] as? String ?? ""
    slo.workflow = indicator["workflow"] as? String ?? ""
    slo.route = indicator["route"] as? String ?? ""
    slo.stepID = indicator["stepId"] as? String ?? ""
    slo.good = indicator["good"] as? String ?? ""
    slo.latencyThreshold = indicator["latencyThreshold"] as? String
    slo.excludeCancelled = indicator["excludeCancelled"] as? Bool ?? false
    if let alerting = spec["alerting"] as? [String: Any] {
      slo.alertingDisabled = alerting["disabled"] as? Bool ?? false
      slo.alertLabels = Self.stringMap(alerting["labels"])
      slo.annotations = Self.stringMap(alerting["annotations"])
      slo.windows = alerting["windows"] as? [[String: Any]] ?? []
    }
    return try slo.build(field: field)
  }

  static func stringMap(_ value: Any?) -> [String: String] {
    (value as? [String: Any] ?? [:]).compactMapValues { $0 as? String ?? ($0 as? any CustomStringConvertible)?.description }
  }

  static func number(_ value: Any?) -> Double? {
    if let double = value as? Double { return double }
    if let int = value as? Int { return Double(int) }
    return nil
  }
}

/// Collects an OpenSLO document's fields and validates them through the proto path, so YAML
/// and API SLOs obey exactly the same rules.
struct Maestro_SLOBuilder {
  var name = ""
  var description = ""
  var labels: [String: String] = [:]
  var window: Duration?
  var objectivePercent: Double = 0
  var kind = ""
  var workflow = ""
  var route = ""
  var stepID = ""
  var good = ""
  var latencyThreshold: String?
  var excludeCancelled = false
  var alertingDisabled = false
  var alertLabels: [String: String] = [:]
  var annotations: [String: String] = [:]
  var windows: [[String: Any]] = []

  func build(field: String) throws(MaestroError) -> SLODefinition {
    var proto = SLODefinition(name: "x", filter: .init(), good: .succeeded, objective: 0.5).proto
    proto.name = self.name
    proto.description_p = self.description
    proto.labels = self.labels
    proto.objectivePercent = self.objectivePercent
    if let window = self.window { proto.window = .init(seconds: Int64(window.seconds)) }
    switch self.kind {
    case "": proto.sli.filter.kind = .unspecified
    case "run": proto.sli.filter.kind = .run
    case "step": proto.sli.filter.kind = .step
    case "request": proto.sli.filter.kind = .request
    default: throw .invalidArgument(field: "\(field).spec.indicator.spec.maestro.kind", "expected run, step or request")
    }
    proto.sli.filter.workflow = self.workflow
    proto.sli.filter.route = self.route
    proto.sli.filter.stepID = self.stepID
    proto.sli.excludeCancelled = self.excludeCancelled
    switch self.good {
    case "succeeded": proto.sli.goodCondition = .succeeded
    case "within_sla": proto.sli.goodCondition = .withinSla
    case "not_server_error": proto.sli.goodCondition = .notServerError
    case "latency_below":
      proto.sli.goodCondition = .latencyBelowThreshold
      guard let text = self.latencyThreshold, let threshold = try? DurationParser.parse(text) else {
        throw .invalidArgument(field: "\(field).spec.indicator.spec.maestro.latencyThreshold", "is required for good: latency_below (e.g. 30s)")
      }
      proto.sli.latencyThreshold = .init(milliseconds: threshold.seconds * 1000)
    default:
      throw .invalidArgument(field: "\(field).spec.indicator.spec.maestro.good", "expected succeeded, within_sla, latency_below or not_server_error")
    }
    proto.alerting = .with {
      $0.disabled = self.alertingDisabled
      $0.labels = self.alertLabels
      $0.annotations = self.annotations
    }
    for (index, window) in self.windows.enumerated() {
      let path = "\(field).spec.alerting.windows[\(index)]"
      func duration(_ key: String) throws(MaestroError) -> Duration {
        guard let text = window[key] as? String, let value = try? DurationParser.parse(text) else {
          throw .invalidArgument(field: "\(path).\(key)", "must be a duration such as 1h")
        }
        return value
      }
      let severity: Maestro_Metrics_V1_AlertSeverity
      switch window["severity"] as? String {
      case "critical": severity = .critical
      case "warning": severity = .warning
      case "info": severity = .info
      default: throw .invalidArgument(field: "\(path).severity", "expected critical, warning or info")
      }
      let long = try duration("longWindow")
      let short = try duration("shortWindow")
      let forDuration = window["for"] == nil ? Duration.zero : try duration("for")
      proto.alerting.windows.append(.with {
        $0.name = window["name"] as? String ?? ""
        $0.severity = severity
        $0.burnRate = SLODefinition.number(window["burnRate"]) ?? 0
        $0.longWindow = .init(seconds: Int64(long.seconds))
        $0.shortWindow = .init(seconds: Int64(short.seconds))
        $0.forDuration = .init(seconds: Int64(forDuration.seconds))
      })
    }
    do {
      return try SLODefinition(proto: proto)
    } catch {
      throw MaestroError(error.code, "\(field) (\(self.name)): \(error.message)", field: error.field.map { "\(field).\($0)" })
    }
  }
}

