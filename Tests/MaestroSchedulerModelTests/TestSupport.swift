import Foundation
import MaestroSchedulerModel

/// `2025-03-30T01:00:00Z` → Unix seconds.
func utc(_ text: String) -> Int64 {
  let formatter = ISO8601DateFormatter()
  formatter.formatOptions = [.withInternetDateTime]
  guard let date = formatter.date(from: text) else { fatalError("bad test time \(text)") }
  return Int64(date.timeIntervalSince1970)
}

/// An instant rendered as local RFC 3339 with offset, e.g. `2025-03-30T03:00:00+02:00`.
func localText(_ instant: Int64, _ zone: ZoneRules) -> String {
  let offset = zone.offset(at: instant)
  let civil = CivilTime(seconds: instant + offset)
  let sign = offset < 0 ? "-" : "+"
  let minutes = abs(offset) / 60
  func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
  return "\(civil)\(sign)\(two(minutes / 60)):\(two(minutes % 60))"
}

/// A deterministic random source for property tests (SplitMix64).
struct SeededGenerator: RandomNumberGenerator {
  var state: UInt64
  mutating func next() -> UInt64 {
    self.state &+= 0x9E37_79B9_7F4A_7C15
    var z = self.state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

func spec(_ crons: [String], zone: String = "UTC") throws -> FireSpec {
  try FireSpec.parse(cronTexts: crons, intervals: [], timeZone: zone, start: nil, end: nil, jitter: .zero).get()
}
