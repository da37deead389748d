import Foundation
import MaestroProtos

/// One series: (tenant, kind, workflow or route, step id).
struct SeriesKey: Sendable, Hashable, Comparable {
  var tenant: String
  var kind: OutcomeKindName
  var workflowOrRoute: String
  /// Steps only; empty otherwise.
  var stepID: String

  static func < (lhs: Self, rhs: Self) -> Bool {
    (lhs.tenant, lhs.kind.rawValue, lhs.workflowOrRoute, lhs.stepID) < (rhs.tenant, rhs.kind.rawValue, rhs.workflowOrRoute, rhs.stepID)
  }
}

/// A validated batch of outcome events, folded into per-minute counts per series (pure).
struct IngestBatch: Sendable {
  struct Rejection: Sendable, Hashable {
    var index: Int
    var reason: String
  }

  var minutes: [SeriesKey: [Int64: OutcomeCounts]] = [:]
  var accepted = 0
  var rejections: [Rejection] = []

  static let maximumEvents = 10_000
  static let maximumNameLength = 256

  /// - Parameters:
  ///   - callerTenant: events of other tenants are rejected unless `mayRecordAnyTenant`.
  ///   - oldest: events that finished before this are too old for retention.
  init(events: [Maestro_Metrics_V1_OutcomeEvent], callerTenant: String, mayRecordAnyTenant: Bool, now: Date, oldest: Date) {
    let latest = now.addingTimeInterval(300)
    for (index, event) in events.enumerated() {
      func reject(_ reason: String) { self.rejections.append(Rejection(index: index, reason: reason)) }
      let kind: OutcomeKindName
      switch event.kind {
      case .run: kind = .run
      case .step: kind = .step
      case .request: kind = .request
      case .unspecified, .UNRECOGNIZED: reject("kind: unknown or missing"); continue
      }
      guard !event.tenant.isEmpty, event.tenant.count <= 128 else { reject("tenant: missing"); continue }
      guard event.tenant == callerTenant || mayRecordAnyTenant else {
        reject("tenant: '\(event.tenant.prefix(64))' is not the caller's tenant (only platform service accounts record for other tenants)")
        continue
      }
      let name = kind == .request ? event.route : event.workflow
      guard !name.isEmpty, name.count <= Self.maximumNameLength else {
        reject(kind == .request ? "route: required for requests (at most 256 characters)" : "workflow: required for runs and steps (at most 256 characters)")
        continue
      }
      let stepID = kind == .step ? event.stepID : ""
      guard kind != .step || (!stepID.isEmpty && stepID.count <= Self.maximumNameLength) else { reject("step_id: required for steps"); continue }
      let outcome: OutcomeClass
      if kind == .request, event.httpStatus != 0 {
        guard (100...599).contains(event.httpStatus) else { reject("http_status: \(event.httpStatus) is not an HTTP status"); continue }
        outcome = event.httpStatus >= 500 ? .failed(timedOut: event.httpStatus == 504) : .success
      } else {
        switch event.status {
        case .succeeded: outcome = .success
        case .failed: outcome = .failed(timedOut: false)
        case .timedOut: outcome = .failed(timedOut: true)
        case .cancelled, .skipped: outcome = .cancelled
        case .unspecified, .UNRECOGNIZED: reject("status: unknown or missing"); continue
        }
      }
      guard event.duration.seconds >= 0, event.duration.nanos >= 0, event.duration.seconds < 400 * 86_400 else {
        reject("duration: must be between 0 and 400 days")
        continue
      }
      let occurred = event.hasOccurredAt ? event.occurredAt.date : now
      guard occurred >= oldest else { reject("occurred_at: older than the minute retention"); continue }
      guard occurred <= latest else { reject("occurred_at: more than 5 minutes in the future"); continue }
      let minute = Int64((occurred.timeIntervalSince1970 / 60).rounded(.down)) * 60
      let key = SeriesKey(tenant: event.tenant, kind: kind, workflowOrRoute: name, stepID: stepID)
      let milliseconds = Double(event.duration.seconds) * 1000 + Double(event.duration.nanos) / 1e6
      self.minutes[key, default: [:]][minute, default: OutcomeCounts()]
        .record(outcome, durationMilliseconds: milliseconds, slaMet: event.hasSlaMet ? event.slaMet : nil)
      self.accepted += 1
    }
  }

  /// Per series, the batch's counts summed over its minutes (for the exported counters).
  var perSeries: [SeriesKey: OutcomeCounts] {
    self.minutes.mapValues { byMinute in
      byMinute.values.reduce(into: OutcomeCounts()) { $0.merge($1) }
    }
  }
}
