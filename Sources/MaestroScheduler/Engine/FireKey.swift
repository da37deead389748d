import Foundation
import MaestroProtos
import SwiftProtobuf

/// The idempotency key of one fire, derived from (schedule, nominal fire time) only: a retry
/// after a crash between "run started" and "fire recorded" gets the same run back.
enum FireKey {
  static func idempotencyKey(scheduleUUID: UUID, fireTime: Date) -> String {
    "scheduler:\(scheduleUUID.uuidString.lowercased()):\(Int64((fireTime.timeIntervalSince1970 * 1000).rounded()))"
  }

  /// RFC 3339 UTC with milliseconds when they are not zero.
  static func rfc3339(_ date: Date) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = date.timeIntervalSince1970.truncatingRemainder(dividingBy: 1) == 0
      ? [.withInternetDateTime] : [.withInternetDateTime, .withFractionalSeconds]
    return formatter.string(from: date)
  }

  /// RFC 3339 in `zone` with its offset, e.g. `2025-03-30T03:00:00+02:00`.
  static func rfc3339(_ date: Date, in zone: TimeZone) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.timeZone = zone
    formatter.formatOptions = [.withInternetDateTime]
    let text = formatter.string(from: date)
    // ISO8601DateFormatter writes "Z" for a zero offset in any zone; spell it as an offset
    // unless the zone is UTC itself.
    if text.hasSuffix("Z"), zone.identifier != "UTC", zone.identifier != "GMT" { return String(text.dropLast()) + "+00:00" }
    return text
  }
}

/// `${schedule.fire_time}` and `${schedule.id}` in the string leaves of a run input.
enum InputTemplate {
  static func render(_ input: Google_Protobuf_Struct, scheduleID: String, fireTime: Date) -> Google_Protobuf_Struct {
    let time = FireKey.rfc3339(fireTime)
    func rendered(_ value: Google_Protobuf_Value) -> Google_Protobuf_Value {
      switch value.kind {
      case .stringValue(let text) where text.contains("${schedule."):
        var copy = value
        copy.stringValue = text.replacingOccurrences(of: "${schedule.fire_time}", with: time).replacingOccurrences(of: "${schedule.id}", with: scheduleID)
        return copy
      case .structValue(let inner):
        var copy = value
        copy.structValue = render(inner, scheduleID: scheduleID, fireTime: fireTime)
        return copy
      case .listValue(let list):
        var copy = value
        copy.listValue.values = list.values.map(rendered)
        return copy
      default:
        return value
      }
    }
    var output = input
    output.fields = input.fields.mapValues(rendered)
    return output
  }
}
