import Foundation
import MaestroCore
import MaestroProtos
import MaestroSchedulerModel
import SwiftProtobuf

/// Checks a schedule from the API and turns it into what is stored. Every problem is reported
/// with its field path (`schedule.spec.cron_expressions[1]`); spec problems all at once.
enum ScheduleValidator {
  struct Validated: Sendable {
    var id: String
    var displayName: String
    var description: String
    var spec: Maestro_Scheduler_V1_ScheduleSpec
    var target: Maestro_Scheduler_V1_ScheduleTarget
    var overlap: OverlapPolicy
    var catchupWindowMilliseconds: Int64
    var pauseAfterFailures: Int
    var paused: Bool
    var notes: String
    var labels: [String: String]
  }

  static let defaultCatchupWindowMilliseconds: Int64 = 60_000
  static let maximumCatchupWindow: Duration = .seconds(30 * 86_400)

  static func validate(_ schedule: Maestro_Scheduler_V1_Schedule, field prefix: String = "schedule") throws -> Validated {
    let id = schedule.id.isEmpty ? "s-" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16) : schedule.id
    try self.checkID(id, field: "\(prefix).id")
    guard schedule.name.count <= 200 else { throw MaestroError.invalidArgument(field: "\(prefix).name", "at most 200 characters") }
    guard schedule.description_p.count <= 2000 else { throw MaestroError.invalidArgument(field: "\(prefix).description", "at most 2000 characters") }
    guard schedule.hasSpec else { throw MaestroError.invalidArgument(field: "\(prefix).spec", "is required") }
    _ = try self.fireSpec(schedule.spec, field: "\(prefix).spec").get()
    guard schedule.hasTarget else { throw MaestroError.invalidArgument(field: "\(prefix).target", "is required") }
    try self.checkTarget(schedule.target, field: "\(prefix).target")
    let overlap = try self.overlap(schedule.overlapPolicy, field: "\(prefix).overlap_policy") ?? .skip
    var catchup = Self.defaultCatchupWindowMilliseconds
    if schedule.hasCatchupWindow {
      let window = try self.duration(schedule.catchupWindow, field: "\(prefix).catchup_window")
      guard window <= Self.maximumCatchupWindow else { throw MaestroError.invalidArgument(field: "\(prefix).catchup_window", "at most 30 days") }
      if window > .zero { catchup = window.milliseconds }
    }
    guard (0...1000).contains(schedule.pauseAfterFailures) else {
      throw MaestroError.invalidArgument(field: "\(prefix).pause_after_failures", "must be 0 (never) to 1000")
    }
    try self.checkLabels(schedule.labels, field: "\(prefix).labels")
    var spec = schedule.spec
    if spec.timeZone.isEmpty { spec.timeZone = "UTC" }
    return Validated(
      id: id, displayName: schedule.name, description: schedule.description_p, spec: spec, target: schedule.target,
      overlap: overlap, catchupWindowMilliseconds: catchup, pauseAfterFailures: Int(schedule.pauseAfterFailures),
      paused: schedule.state.paused, notes: String(schedule.state.notes.prefix(1000)), labels: schedule.labels)
  }

  static func checkID(_ id: String, field: String) throws {
    guard !id.isEmpty else { throw MaestroError.invalidArgument(field: field, "is required") }
    let bytes = Array(id.utf8)
    func allowed(_ b: UInt8, first: Bool) -> Bool {
      (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || (!first && (b == 0x2e || b == 0x5f || b == 0x2d))
    }
    guard bytes.count <= 128, allowed(bytes[0], first: true), bytes.dropFirst().allSatisfy({ allowed($0, first: false) }) else {
      throw MaestroError.invalidArgument(field: field, "must match [a-z0-9][a-z0-9._-]{0,127}")
    }
  }

  /// The compiled spec, or an INVALID_ARGUMENT naming every bad field under `field`.
  static func fireSpec(_ spec: Maestro_Scheduler_V1_ScheduleSpec, field: String) -> Result<FireSpec, MaestroError> {
    var problems: [SpecError] = []
    var intervals: [(every: Duration, offset: Duration)] = []
    for (index, interval) in spec.intervals.enumerated() {
      guard interval.hasEvery else {
        problems.append(SpecError("every is required", field: "intervals[\(index)].every"))
        continue
      }
      intervals.append((every: interval.every.duration, offset: interval.offset.duration))
    }
    let result = FireSpec.parse(
      cronTexts: spec.cronExpressions, intervals: intervals, timeZone: spec.timeZone,
      start: spec.hasStartTime ? spec.startTime.date : nil, end: spec.hasEndTime ? spec.endTime.date : nil,
      jitter: spec.hasJitter ? spec.jitter.duration : .zero)
    switch result {
    case .success(let compiled) where problems.isEmpty:
      return .success(compiled)
    case .success:
      break
    case .failure(let errors):
      problems += errors.errors
    }
    let messages = problems.map { problem in "\(field).\(problem.field ?? "spec"): \(problem.message)" }
    var error = MaestroError(.invalidArgument, messages.joined(separator: "; "), field: problems.first.map { "\(field).\($0.field ?? "")" })
    if messages.isEmpty { error = MaestroError.invalidArgument(field: field, "is invalid") }
    return .failure(error)
  }

  static func checkTarget(_ target: Maestro_Scheduler_V1_ScheduleTarget, field: String) throws {
    let hasWorkflow = !target.workflowName.isEmpty
    let hasTemplate = !target.templateName.isEmpty
    guard hasWorkflow != hasTemplate else {
      throw MaestroError.invalidArgument(field: "\(field).workflow_name", "set exactly one of workflow_name and template_name")
    }
    if hasWorkflow, target.workflowName.count > 128 { throw MaestroError.invalidArgument(field: "\(field).workflow_name", "at most 128 characters") }
    if hasTemplate, target.templateName.count > 128 { throw MaestroError.invalidArgument(field: "\(field).template_name", "at most 128 characters") }
    guard target.workflowVersion >= 0 else { throw MaestroError.invalidArgument(field: "\(field).workflow_version", "must not be negative (0 = latest)") }
    guard target.templateVersion >= 0 else { throw MaestroError.invalidArgument(field: "\(field).template_version", "must not be negative (0 = latest)") }
    if (try? target.input.serializedBytes() as [UInt8])?.count ?? 0 > 256 * 1024 {
      throw MaestroError.invalidArgument(field: "\(field).input", "at most 256 KiB")
    }
    try self.checkLabels(target.runLabels, field: "\(field).run_labels")
    if target.runLabels.keys.contains(where: { $0.hasPrefix("maestro.") }) {
      throw MaestroError.invalidArgument(field: "\(field).run_labels", "keys starting with 'maestro.' are set by the scheduler")
    }
  }

  static func checkLabels(_ labels: [String: String], field: String) throws {
    guard labels.count <= 32 else { throw MaestroError.invalidArgument(field: field, "at most 32 labels") }
    for (key, value) in labels {
      guard !key.isEmpty, key.count <= 63 else { throw MaestroError.invalidArgument(field: field, "keys must be 1-63 characters") }
      guard value.count <= 256 else { throw MaestroError.invalidArgument(field: field, "values must be at most 256 characters") }
    }
  }

  static func overlap(_ policy: Maestro_Scheduler_V1_OverlapPolicy, field: String) throws -> OverlapPolicy? {
    switch policy {
    case .unspecified: return nil
    case .skip: return .skip
    case .bufferOne: return .bufferOne
    case .bufferAll: return .bufferAll
    case .cancelOther: return .cancelOther
    case .terminateOther: return .terminateOther
    case .allowAll: return .allowAll
    case .UNRECOGNIZED(let value): throw MaestroError.invalidArgument(field: field, "unknown overlap policy \(value)")
    }
  }

  static func duration(_ value: Google_Protobuf_Duration, field: String) throws -> Duration {
    guard value.seconds >= 0, value.nanos >= 0 else { throw MaestroError.invalidArgument(field: field, "must not be negative") }
    return value.duration
  }
}

extension Google_Protobuf_Duration {
  var duration: Duration { .seconds(self.seconds) + .nanoseconds(Int64(self.nanos)) }
}

extension OverlapPolicy {
  var proto: Maestro_Scheduler_V1_OverlapPolicy {
    switch self {
    case .skip: .skip
    case .bufferOne: .bufferOne
    case .bufferAll: .bufferAll
    case .cancelOther: .cancelOther
    case .terminateOther: .terminateOther
    case .allowAll: .allowAll
    }
  }
}
