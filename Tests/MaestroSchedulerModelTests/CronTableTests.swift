import Foundation
import MaestroSchedulerModel
import Testing

@Suite("Cron next-fire table: DST both ways, month ends, leap years, steps, DOM/DOW OR")
struct CronTableTests {
  struct Case: Sendable, CustomTestStringConvertible {
    var cron: String
    var zone: String
    var after: String
    var expected: [String]
    var testDescription: String { "\(self.cron) in \(self.zone) after \(self.after)" }
  }

  static let cases: [Case] = [
    // Spring forward, Berlin 2025-03-30 02:00 → 03:00: the skipped 02:30 fires once at 03:00.
    Case(cron: "30 2 * * *", zone: "Europe/Berlin", after: "2025-03-29T11:00:00Z",
         expected: ["2025-03-30T03:00:00+02:00", "2025-03-31T02:30:00+02:00"]),
    // Every slot of the skipped hour collapses into one fire at the next valid time.
    Case(cron: "*/15 2 * * *", zone: "Europe/Berlin", after: "2025-03-29T23:00:00Z",
         expected: ["2025-03-30T03:00:00+02:00", "2025-03-31T02:00:00+02:00", "2025-03-31T02:15:00+02:00"]),
    // Fall back, Berlin 2025-10-26 03:00 CEST → 02:00 CET: 02:30 fires once (first occurrence).
    Case(cron: "30 2 * * *", zone: "Europe/Berlin", after: "2025-10-25T12:00:00Z",
         expected: ["2025-10-26T02:30:00+02:00", "2025-10-27T02:30:00+01:00"]),
    // Hourly across the fall-back: the repeated 02:00 is not fired a second time.
    Case(cron: "0 * * * *", zone: "Europe/Berlin", after: "2025-10-25T22:30:00Z",
         expected: ["2025-10-26T01:00:00+02:00", "2025-10-26T02:00:00+02:00", "2025-10-26T03:00:00+01:00", "2025-10-26T04:00:00+01:00"]),
    // Asked from inside the second occurrence of the repeated hour.
    Case(cron: "*/20 2 * * *", zone: "Europe/Berlin", after: "2025-10-26T01:10:00Z",
         expected: ["2025-10-27T02:00:00+01:00"]),
    // New York spring forward 2025-03-09 02:00 → 03:00.
    Case(cron: "0 2 * * *", zone: "America/New_York", after: "2025-03-08T12:00:00Z",
         expected: ["2025-03-09T03:00:00-04:00", "2025-03-10T02:00:00-04:00"]),
    // Lord Howe's 30-minute DST (2025-10-05 02:00 → 02:30).
    Case(cron: "15 2 * * *", zone: "Australia/Lord_Howe", after: "2025-10-04T00:00:00Z",
         expected: ["2025-10-05T02:30:00+11:00", "2025-10-06T02:15:00+11:00"]),
    // Month ends: day 31 only in 31-day months.
    Case(cron: "0 0 31 * *", zone: "UTC", after: "2025-01-31T00:00:00Z",
         expected: ["2025-03-31T00:00:00+00:00", "2025-05-31T00:00:00+00:00", "2025-07-31T00:00:00+00:00"]),
    // L = last day of the month, leap February included.
    Case(cron: "0 0 L * *", zone: "UTC", after: "2024-01-31T00:00:00Z",
         expected: ["2024-02-29T00:00:00+00:00", "2024-03-31T00:00:00+00:00", "2024-04-30T00:00:00+00:00"]),
    // February 29 only in leap years; 2100 is not one.
    Case(cron: "0 0 29 2 *", zone: "UTC", after: "2025-01-01T00:00:00Z",
         expected: ["2028-02-29T00:00:00+00:00", "2032-02-29T00:00:00+00:00"]),
    Case(cron: "0 0 29 2 *", zone: "UTC", after: "2096-03-01T00:00:00Z",
         expected: ["2104-02-29T00:00:00+00:00"]),
    // */7 restarts every hour (…, 49, 56, then 0).
    Case(cron: "*/7 * * * *", zone: "UTC", after: "2025-06-01T10:56:00Z",
         expected: ["2025-06-01T11:00:00+00:00", "2025-06-01T11:07:00+00:00"]),
    // Both day fields restricted: OR (every Friday, and every 13th).
    Case(cron: "0 0 13 * FRI", zone: "UTC", after: "2025-06-01T00:00:00Z",
         expected: ["2025-06-06T00:00:00+00:00", "2025-06-13T00:00:00+00:00", "2025-06-20T00:00:00+00:00", "2025-06-27T00:00:00+00:00",
                    "2025-07-04T00:00:00+00:00", "2025-07-11T00:00:00+00:00", "2025-07-13T00:00:00+00:00", "2025-07-18T00:00:00+00:00"]),
    // Day-of-month starting with * (here */2) makes it AND, as in Vixie cron: odd-day Mondays.
    Case(cron: "0 0 */2 * 1", zone: "UTC", after: "2025-06-01T00:00:00Z",
         expected: ["2025-06-09T00:00:00+00:00", "2025-06-23T00:00:00+00:00"]),
    // Last Friday, second Monday, weekday 7 = Sunday.
    Case(cron: "0 12 * * 5L", zone: "UTC", after: "2025-06-01T00:00:00Z",
         expected: ["2025-06-27T12:00:00+00:00", "2025-07-25T12:00:00+00:00"]),
    Case(cron: "0 12 * * MON#2", zone: "UTC", after: "2025-06-01T00:00:00Z",
         expected: ["2025-06-09T12:00:00+00:00", "2025-07-14T12:00:00+00:00"]),
    Case(cron: "0 8 * * 7", zone: "UTC", after: "2025-06-01T08:00:00Z",
         expected: ["2025-06-08T08:00:00+00:00"]),
    // Names and ranges; 6 fields (seconds first).
    Case(cron: "0 9 * jan-mar mon-fri", zone: "UTC", after: "2025-03-28T10:00:00Z",
         expected: ["2025-03-31T09:00:00+00:00", "2026-01-01T09:00:00+00:00"]),
    Case(cron: "*/20 * * * * *", zone: "UTC", after: "2025-06-01T10:00:00Z",
         expected: ["2025-06-01T10:00:20+00:00", "2025-06-01T10:00:40+00:00", "2025-06-01T10:01:00+00:00"]),
    Case(cron: "0 30 9 1,15 * ?", zone: "Asia/Kolkata", after: "2025-06-01T00:00:00Z",
         expected: ["2025-06-01T09:30:00+05:30", "2025-06-15T09:30:00+05:30"]),
    // Macros.
    Case(cron: "@weekly", zone: "UTC", after: "2025-06-01T00:00:00Z", expected: ["2025-06-08T00:00:00+00:00"]),
    Case(cron: "@monthly", zone: "Europe/Berlin", after: "2025-06-01T00:00:00Z", expected: ["2025-07-01T00:00:00+02:00"]),
    Case(cron: "@yearly", zone: "UTC", after: "2025-06-01T00:00:00Z", expected: ["2026-01-01T00:00:00+00:00"]),
    Case(cron: "@hourly", zone: "Asia/Kolkata", after: "2025-06-01T00:10:00Z", expected: ["2025-06-01T06:00:00+05:30"]),
  ]

  @Test("next fire times", arguments: Self.cases)
  func nextFires(_ entry: Case) throws {
    let fireSpec = try spec([entry.cron], zone: entry.zone)
    let times = fireSpec.preview(after: utc(entry.after), count: entry.expected.count)
    #expect(times.map { localText($0, fireSpec.zone) } == entry.expected)
  }

  @Test("@every counts from the epoch; several specs fire as their union, each time once")
  func everyAndUnion() throws {
    let every = try spec(["@every 90s"])
    #expect(every.preview(after: 0, count: 3) == [90, 180, 270])
    let union = try spec(["@every 30m", "0 * * * *", "15 * * * *"])
    #expect(union.preview(after: utc("2025-06-01T00:00:00Z"), count: 4).map { $0 - utc("2025-06-01T00:00:00Z") } == [900, 1800, 3600, 4500])
  }

  @Test("intervals with an offset, start and end bounds")
  func boundsAndOffsets() throws {
    let start = Date(timeIntervalSince1970: Double(utc("2025-06-01T00:10:00Z")))
    let end = Date(timeIntervalSince1970: Double(utc("2025-06-01T01:00:00Z")))
    let fireSpec = try FireSpec.parse(
      cronTexts: [], intervals: [(every: .seconds(600), offset: .seconds(60))], timeZone: "UTC", start: start, end: end, jitter: .zero
    ).get()
    let times = fireSpec.preview(after: utc("2025-06-01T00:00:00Z"), count: 100).map { localText($0, .utc) }
    #expect(times == ["2025-06-01T00:11:00+00:00", "2025-06-01T00:21:00+00:00", "2025-06-01T00:31:00+00:00", "2025-06-01T00:41:00+00:00", "2025-06-01T00:51:00+00:00"])
    #expect(fireSpec.nextFire(after: utc("2025-06-01T00:51:00Z")) == nil)
  }

  @Test("jitter is deterministic per schedule and fire time, and within [0, jitter)")
  func jitter() {
    var seen = Set<Int64>()
    for time in Int64(0)..<500 {
      let delay = Jitter.delay(scheduleKey: "s1", fireTime: time * 60, jitterMilliseconds: 10_000)
      #expect(delay >= 0 && delay < 10_000)
      #expect(delay == Jitter.delay(scheduleKey: "s1", fireTime: time * 60, jitterMilliseconds: 10_000))
      seen.insert(delay)
    }
    #expect(seen.count > 400, "delays should spread, got \(seen.count) distinct of 500")
    #expect(Jitter.delay(scheduleKey: "s1", fireTime: 60, jitterMilliseconds: 10_000) != Jitter.delay(scheduleKey: "s2", fireTime: 60, jitterMilliseconds: 10_000)
      || Jitter.delay(scheduleKey: "s1", fireTime: 120, jitterMilliseconds: 10_000) != Jitter.delay(scheduleKey: "s2", fireTime: 120, jitterMilliseconds: 10_000))
  }

  @Test(
    "invalid expressions are refused with the field and the reason",
    arguments: [
      ("60 * * * *", "minute"), ("* * * *", "fields"), ("0 0 30 2 *", "never matches"), ("5-1 * * * *", "backwards"),
      ("*/0 * * * *", "step"), ("@fortnightly", "macro"), ("0 0 * * 8", "day-of-week"), ("0 0 * * MON#6", "#"),
      ("0 0 * FOO *", "month"), ("@every 0s", "at least 1s"), ("@every soon", "duration"), ("0 0 1,,2 * *", "empty"),
    ]
  )
  func invalid(text: String, fragment: String) {
    switch FireSpec.parse(cronTexts: [text], intervals: [], timeZone: "UTC", start: nil, end: nil, jitter: .zero) {
    case .success: Issue.record("'\(text)' was accepted")
    case .failure(let errors):
      #expect(errors.errors.count == 1)
      #expect(errors.errors.first?.field == "cron_expressions[0]")
      #expect(errors.description.contains(fragment), "\(errors)")
    }
  }

  @Test("every problem of a spec is reported at once, each with its field")
  func allProblems() {
    let result = FireSpec.parse(
      cronTexts: ["0 0 * * *", "bad"], intervals: [(every: .milliseconds(1500), offset: .zero)], timeZone: "Mars/Olympus",
      start: Date(timeIntervalSince1970: 100), end: Date(timeIntervalSince1970: 50), jitter: .seconds(-1))
    guard case .failure(let errors) = result else { Issue.record("accepted"); return }
    #expect(errors.errors.compactMap(\.field) == ["cron_expressions[1]", "intervals[0]", "time_zone", "end_time", "jitter"])
  }
}
