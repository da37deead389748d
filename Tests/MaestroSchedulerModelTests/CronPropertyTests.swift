import Foundation
import MaestroSchedulerModel
import Testing

/// Random cron expressions against a brute-force reference that walks a wall clock minute by
/// minute: a fire happens whenever the clock shows, or jumps over, a matching minute it has
/// never shown before. That is the documented DST rule stated independently of the engine.
@Suite("Cron property: next-fire computation equals a minute-by-minute reference")
struct CronPropertyTests {
  static let zones = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Sao_Paulo", "Pacific/Chatham", "Asia/Kolkata", "America/Santiago"]

  static func reference(_ cron: CronExpression, _ zone: ZoneRules, after start: Int64, until end: Int64) -> [Int64] {
    var instant = (start - 4 * 3600).floorDivided(60) * 60
    var shown = zone.local(instant - 60)
    var fires: [Int64] = []
    while instant <= end {
      let wall = zone.local(instant)
      if wall > shown {
        var fire = cron.matches(CivilTime(seconds: wall))
        var skipped = shown + 60
        while !fire, skipped < wall {
          fire = cron.matches(CivilTime(seconds: skipped))
          skipped += 60
        }
        shown = wall
        if fire, instant > start { fires.append(instant) }
      }
      instant += 60
    }
    return fires
  }

  static func field(_ g: inout SeededGenerator, range: ClosedRange<Int>, names: [String] = []) -> String {
    let low = range.lowerBound
    let high = range.upperBound
    func value() -> String {
      let v = Int.random(in: range, using: &g)
      if !names.isEmpty, Bool.random(using: &g), v - low < names.count { return names[v - low] }
      return "\(v)"
    }
    switch Int.random(in: 0..<8, using: &g) {
    case 0: return "*"
    case 1: return "*/\(Int.random(in: 2...max(2, (high - low) / 2), using: &g))"
    case 2, 3: return value()
    case 4:
      let a = Int.random(in: low...high, using: &g)
      return "\(a)-\(Int.random(in: a...high, using: &g))"
    case 5:
      let a = Int.random(in: low...high, using: &g)
      return "\(a)-\(Int.random(in: a...high, using: &g))/\(Int.random(in: 2...5, using: &g))"
    default: return "\(value()),\(value())"
    }
  }

  static func randomCron(_ g: inout SeededGenerator) -> String {
    let minute = Self.field(&g, range: 0...59)
    // Hours near DST transitions (0-4) are the interesting ones.
    let hour = Bool.random(using: &g) ? "\(Int.random(in: 0...4, using: &g))" : Self.field(&g, range: 0...23)
    var dom = Self.field(&g, range: 1...31)
    if Int.random(in: 0..<6, using: &g) == 0 { dom = "L" }
    let month = Int.random(in: 0..<3, using: &g) == 0 ? Self.field(&g, range: 1...12, names: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]) : "*"
    var dow = Self.field(&g, range: 0...6, names: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])
    switch Int.random(in: 0..<8, using: &g) {
    case 0: dow = "\(Int.random(in: 0...6, using: &g))L"
    case 1: dow = "\(Int.random(in: 0...6, using: &g))#\(Int.random(in: 1...5, using: &g))"
    case 2, 3, 4: dow = "*"
    default: break
    }
    if Bool.random(using: &g) { dom = "*" }
    return "\(minute) \(hour) \(dom) \(month) \(dow)"
  }

  @Test("600 random expressions, around DST transitions in 8 zones, 3 days each")
  func matchesReference() throws {
    var g = SeededGenerator(state: 0x5eed_2026)
    var checked = 0
    var fires = 0
    while checked < 600 {
      let text = Self.randomCron(&g)
      guard let cron = try? CronExpression(parsing: text) else { continue }  // e.g. "0 0 31 2 *"
      let zoneName = Self.zones[Int.random(in: 0..<Self.zones.count, using: &g)]
      let zone = ZoneRules(identifier: zoneName)!
      // A random instant in 2021–2030, moved near the zone's next transition half of the time.
      var start = Int64.random(in: 1_609_459_200...1_924_992_000, using: &g)
      if Bool.random(using: &g), let transition = zone.timeZone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: Double(start))) {
        start = Int64(transition.timeIntervalSince1970) - Int64.random(in: 0...(2 * 86_400), using: &g)
      }
      let end = start + 3 * 86_400
      let expected = Self.reference(cron, zone, after: start, until: end)
      let fireSpec = FireSpec(crons: [cron], zone: zone)
      var actual: [Int64] = []
      var cursor = start
      while let next = fireSpec.nextFire(after: cursor), next <= end {
        actual.append(next)
        cursor = next
      }
      #expect(actual == expected, "\(text) in \(zoneName) after \(start): \(actual.prefix(5)) vs \(expected.prefix(5))")
      if actual != expected { return }
      checked += 1
      fires += actual.count
    }
    #expect(fires > 1000, "the random expressions should fire often enough to mean something (\(fires))")
  }

  @Test("6-field expressions against a second-by-second reference in UTC and Berlin")
  func seconds() throws {
    var g = SeededGenerator(state: 42)
    for _ in 0..<40 {
      let text = "\(Self.field(&g, range: 0...59)) \(Self.field(&g, range: 0...59)) \(Int.random(in: 0...3, using: &g)) * * *"
      let cron = try CronExpression(parsing: text)
      let zone = ZoneRules(identifier: Bool.random(using: &g) ? "UTC" : "Europe/Berlin")!
      let start = utc("2025-03-30T00:00:00Z") - Int64.random(in: 0...3600, using: &g)
      let end = start + 4 * 3600
      var expected: [Int64] = []
      var shown = zone.local(start - 4 * 3600)
      var instant = start - 4 * 3600 + 1
      while instant <= end {
        let wall = zone.local(instant)
        if wall > shown {
          var fire = cron.matches(CivilTime(seconds: wall))
          var skipped = shown + 1
          while !fire, skipped < wall {
            fire = cron.matches(CivilTime(seconds: skipped))
            skipped += 1
          }
          shown = wall
          if fire, instant > start { expected.append(instant) }
        }
        instant += 1
      }
      let fireSpec = FireSpec(crons: [cron], zone: zone)
      var actual: [Int64] = []
      var cursor = start
      while let next = fireSpec.nextFire(after: cursor), next <= end {
        actual.append(next)
        cursor = next
      }
      #expect(actual == expected, "\(text) in \(zone.timeZone.identifier)")
    }
  }
}

extension Int64 {
  func floorDivided(_ divisor: Int64) -> Int64 {
    let q = self / divisor
    return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? q - 1 : q
  }
}
