public import Foundation

/// Conversions between instants (Unix seconds) and civil times in one IANA time zone, with the
/// scheduler's DST rules:
/// - a civil time that does not exist (skipped by a spring-forward) maps to the first instant
///   after the gap (the transition itself), so it fires once, at the next valid time;
/// - a civil time that exists twice (repeated by a fall-back) maps to its first occurrence only.
public struct ZoneRules: Sendable, Hashable {
  public let timeZone: TimeZone
  /// Set for zones with one offset forever (UTC, Etc/GMT+5): a fast path with no lookups.
  private let fixedOffset: Int64?

  public init(_ timeZone: TimeZone) {
    self.timeZone = timeZone
    let probes = [0.0, 1.6e9, 1.75e9, 1.9e9, 2.5e9].map { timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: $0)) }
    self.fixedOffset = Set(probes).count == 1 && timeZone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: 1.6e9)) == nil
      ? Int64(probes[0]) : nil
  }

  /// The zone named `identifier` (IANA, e.g. `Europe/Berlin`; empty = UTC).
  public init?(identifier: String) {
    let name = identifier.isEmpty ? "UTC" : identifier
    // Foundation also accepts abbreviations ("EST") and GMT offsets; only IANA names are documented.
    guard name == "UTC" || name.contains("/") || TimeZone.knownTimeZoneIdentifiers.contains(name),
      let zone = TimeZone(identifier: name)
    else { return nil }
    self.init(zone)
  }

  public static let utc = ZoneRules(TimeZone(identifier: "UTC")!)

  /// UTC offset in seconds at `instant`.
  public func offset(at instant: Int64) -> Int64 {
    if let fixed = self.fixedOffset { return fixed }
    return Int64(self.timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(instant))))
  }

  /// The civil time (seconds) shown by a wall clock in this zone at `instant`.
  public func local(_ instant: Int64) -> Int64 { instant + self.offset(at: instant) }

  /// The instant a civil time denotes under the DST rules above.
  public func instant(forLocal local: Int64) -> Int64 {
    if let fixed = self.fixedOffset { return local - fixed }
    var offsets: [Int64] = []
    for probe in [local - 86_400, local, local + 86_400] {
      let offset = self.offset(at: probe)
      if !offsets.contains(offset) { offsets.append(offset) }
    }
    var best: Int64?
    for offset in offsets {
      let candidate = local - offset
      if self.local(candidate) == local { best = min(best ?? candidate, candidate) }
    }
    if let best { return best }
    // In a gap: the first instant whose wall clock is past `local` (binary search; the wall
    // clock is monotone across a forward jump).
    var low = local - (offsets.max() ?? 0) - 1  // wall clock ≤ local here
    var high = local - (offsets.min() ?? 0) + 1  // wall clock > local here
    if self.local(low) > local { low -= 86_400 }
    if self.local(high) <= local { high += 86_400 }
    while high - low > 1 {
      let middle = low + (high - low) / 2
      if self.local(middle) > local { high = middle } else { low = middle }
    }
    return high
  }
}
