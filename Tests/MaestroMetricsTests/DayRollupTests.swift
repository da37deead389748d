import Foundation
import MaestroKit
@testable import MaestroMetrics
import MaestroProtos
import PostgresNIO
import Testing

@Suite("Day rollup: series_day, late minutes, reads across levels, retention (real Postgres)")
struct DayRollupTests {
  /// Inserts pseudo-random minutes for `series` run series of `tenant` over [start, end) (about
  /// 4 of 5 minutes present; every counter and the histogram vary with the minute and series).
  static func fill(_ h: MetricsHarness, tenant: String = "default", series: Int = 4, from start: Date, to end: Date) async throws {
    _ = try await h.engine.database.client.query(
      """
      INSERT INTO series (tenant, kind, workflow_or_route)
      SELECT \(tenant), 'run', 'w' || i FROM generate_series(0, \(series - 1)) AS i ON CONFLICT DO NOTHING
      """
    ).collect()
    _ = try await h.engine.database.client.query(
      """
      INSERT INTO series_minute (tenant, series_id, bucket_start, total, success, failed, timed_out, sla_met, sla_missed, latency_buckets, sum_duration_ms)
      SELECT s.tenant, s.id, m, r.total, r.total - r.failed - r.x % 2, r.failed, r.failed / 2, r.total - r.x % 3 / 2, r.x % 3 / 2,
             (SELECT array_agg(CASE WHEN b = r.x % 21 + 1 THEN r.total - r.x % 2 WHEN b = (r.x / 21) % 21 + 1 THEN r.x % 2 ELSE 0 END ORDER BY b)
              FROM generate_series(1, 21) AS b)::bigint[],
             r.x * 37
      FROM series s, generate_series(\(start), \(end.addingTimeInterval(-60)), interval '1 minute') AS m,
           LATERAL (SELECT abs(hashint8(extract(epoch FROM m)::bigint * 1000 + s.id)::bigint) % 100000 AS x) AS hx,
           LATERAL (SELECT hx.x, 3 + hx.x % 17 AS total, hx.x % 3 AS failed) AS r
      WHERE s.tenant = \(tenant) AND r.x % 5 <> 0
      """
    ).collect()
  }

  /// The brute-force truth: the sums over the minutes of [start, end).
  static func minuteSum(_ h: MetricsHarness, tenant: String = "default", _ start: Date, _ end: Date) async throws -> OutcomeCounts {
    let rows = try await h.engine.database.client.query(
      PostgresQuery(
        unsafeSQL: "SELECT 0, \(AggregateStore.sumColumns(.all)) FROM series_minute WHERE tenant = $1 AND bucket_start >= $2 AND bucket_start < $3",
        binds: { var b = PostgresBindings(); b.append(tenant); b.append(start); b.append(end); return b }()
      )
    ).collect()
    return try AggregateStore.decodeCounts(rows[0]).1
  }

  /// Rows of `table` (by bucket) that differ from the sum of their minutes, plus buckets missing
  /// on either side, for buckets before `upto`.
  static func mismatches(_ h: MetricsHarness, table: String, width: Int, upto: Date) async throws -> Int64 {
    let sums = "sum(total) AS total, sum(success) AS success, sum(failed) AS failed, sum(timed_out) AS timed_out, sum(sla_met) AS sla_met, "
      + "sum(sla_missed) AS sla_missed, sum(sum_duration_ms) AS sum_ms, ARRAY[" + (1...21).map { "sum(latency_buckets[\($0)])" }.joined(separator: ", ") + "] AS lat"
    let rows = try await h.engine.database.client.query(
      PostgresQuery(
        unsafeSQL: """
          WITH m AS (
            SELECT tenant, series_id, to_timestamp(floor(extract(epoch FROM bucket_start) / \(width)) * \(width)) AS b, \(sums)
            FROM series_minute WHERE bucket_start < $1 GROUP BY 1, 2, 3
          ), t AS (
            SELECT tenant, series_id, bucket_start AS b, \(sums) FROM \(table) WHERE bucket_start < $1 GROUP BY 1, 2, 3
          )
          SELECT count(*) FROM m FULL JOIN t USING (tenant, series_id, b)
          WHERE (m.total, m.success, m.failed, m.timed_out, m.sla_met, m.sla_missed, m.sum_ms, m.lat)
            IS DISTINCT FROM (t.total, t.success, t.failed, t.timed_out, t.sla_met, t.sla_missed, t.sum_ms, t.lat)
          """,
        binds: { var b = PostgresBindings(); b.append(upto); return b }()
      )
    ).collect()
    return try rows[0].decode(Int64.self)
  }

  static func rowCount(_ h: MetricsHarness, _ table: String) async throws -> Int64 {
    try await h.engine.database.client.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table)")).collect()[0].decode(Int64.self)
  }

  @Test("complete days are rolled up once: incremental, repeated and concurrent runs neither skip nor double a day")
  func rollupIsRestartSafe() async throws {
    try await MetricsHarness.with { h in
      let now = h.clock.now
      let start = AggregateStore.floorDay(now.addingTimeInterval(-5 * 86_400)).addingTimeInterval(7 * 3600)
      try await Self.fill(h, from: start, to: now)
      let store = h.engine.aggregates
      // Before any hour is rolled up, there is no complete day.
      #expect(try await store.rollupDays() == 0)
      #expect(try await Self.rowCount(h, "series_day") == 0)
      // The hour rollup advances in 7-hour steps; the day rollup runs twice, concurrently, after each.
      var at = start.addingTimeInterval(3600)
      var days = 0
      while at < now {
        try await store.rollupHours(now: at, grace: .zero)
        days += try await withThrowingTaskGroup(of: Int.self) { group in
          group.addTask { try await store.rollupDays() }
          group.addTask { try await store.rollupDays() }
          return try await group.reduce(0, +)
        }
        at = at.addingTimeInterval(7 * 3600)
      }
      let final = try await store.rollup(now: now)
      days += final.days
      let marks = try await store.rollupMarks()
      #expect(marks.days == AggregateStore.floorDay(marks.hours))
      // The first day starts at the oldest hour (7:00), so it counts too.
      #expect(days == Int(marks.days.timeIntervalSince(AggregateStore.floorDay(start)) / 86_400))
      #expect(days >= 4)
      #expect(try await Self.rowCount(h, "series_day") == Int64(days * 4))
      #expect(try await Self.mismatches(h, table: "series_day", width: 86_400, upto: marks.days) == 0)
      #expect(try await Self.mismatches(h, table: "series_hour", width: 3600, upto: marks.hours) == 0)
      // Idempotent: nothing left to do.
      #expect(try await store.rollup(now: now) == .init(hours: 0, days: 0))
      #expect(try await Self.mismatches(h, table: "series_day", width: 86_400, upto: marks.days) == 0)
    }
  }

  @Test("a late minute of an already rolled-up day is counted exactly once in its minute, hour and day")
  func lateMinuteIntoRolledUpDay() async throws {
    try await MetricsHarness.with { h in
      let now = h.clock.now
      let start = AggregateStore.floorDay(now.addingTimeInterval(-4 * 86_400))
      try await Self.fill(h, from: start, to: now)
      let store = h.engine.aggregates
      let rolled = try await store.rollup(now: now)
      #expect(rolled.days >= 3)
      let marks = try await store.rollupMarks()
      let range = AggregateStore.TimeRange(start: start, end: now.addingTimeInterval(1))
      let before = try await store.counts(tenant: "default", filter: .init(kind: .run), ranges: [range], now: now)[0]
      #expect(before == (try await Self.minuteSum(h, start, range.end)))

      // Late events two days back: two in one minute, one more in the same hour, one in another
      // hour of the same day (so the late rows merge per hour and per day), one in a new series.
      let day = AggregateStore.floorDay(now.addingTimeInterval(-2 * 86_400))
      #expect(day < marks.days)
      let late = [
        MetricsHarness.run("w1", status: .failed, seconds: 3, slaMet: false, at: day.addingTimeInterval(3 * 3600 + 65)),
        MetricsHarness.run("w1", status: .succeeded, seconds: 40, slaMet: true, at: day.addingTimeInterval(3 * 3600 + 70)),
        MetricsHarness.run("w1", status: .succeeded, seconds: 0.5, at: day.addingTimeInterval(3 * 3600 + 1800)),
        MetricsHarness.run("w1", status: .cancelled, seconds: 9, at: day.addingTimeInterval(17 * 3600 + 5)),
        MetricsHarness.run("late-only", status: .succeeded, seconds: 1, at: day.addingTimeInterval(20 * 3600)),
      ]
      try await h.record(late)
      var expected = OutcomeCounts()
      for event in late {
        expected.record(
          event.status == .failed ? .failed(timedOut: false) : event.status == .succeeded ? .success : .cancelled,
          durationMilliseconds: Double(event.duration.seconds) * 1000 + Double(event.duration.nanos) / 1e6,
          slaMet: event.hasSlaMet ? event.slaMet : nil)
      }
      let after = try await store.counts(tenant: "default", filter: .init(kind: .run), ranges: [range], now: now)[0]
      var sum = before
      sum.merge(expected)
      #expect(after == sum)
      #expect(after == (try await Self.minuteSum(h, start, range.end)))
      // Each level still equals the sum of its minutes, and the day grew by exactly 5.
      #expect(try await Self.mismatches(h, table: "series_hour", width: 3600, upto: marks.hours) == 0)
      #expect(try await Self.mismatches(h, table: "series_day", width: 86_400, upto: marks.days) == 0)
      let dayTotal = try await h.engine.database.client.query(
        "SELECT sum(total)::bigint FROM series_day WHERE tenant = 'default' AND bucket_start = \(day)").collect()[0].decode(Int64.self)
      #expect(dayTotal == (try await Self.minuteSum(h, day, day.addingTimeInterval(86_400))).total)
      // A later rollup does not add them again.
      #expect(try await store.rollup(now: now) == .init(hours: 0, days: 0))
      #expect(try await store.counts(tenant: "default", filter: .init(kind: .run), ranges: [range], now: now)[0] == sum)
    }
  }

  @Test("counts over random ranges across minute, hour and day boundaries equal the sum of their minutes")
  func countsEqualBruteForce() async throws {
    try await MetricsHarness.with { h in
      let now = h.clock.now
      let start = AggregateStore.floorDay(now.addingTimeInterval(-6 * 86_400)).addingTimeInterval(5 * 3600 + 17 * 60)
      try await Self.fill(h, from: start, to: now)
      let store = h.engine.aggregates
      // Hours up to ~10 h ago are rolled up, and days up to that; later hours are only minutes.
      let rolled = try await store.rollup(now: now.addingTimeInterval(-10 * 3600))
      #expect(rolled.days >= 5)
      // Late events into rolled-up days and hours, and into minutes not rolled up yet.
      var late: [Maestro_Metrics_V1_OutcomeEvent] = []
      for index in 0..<40 {
        late.append(MetricsHarness.run("w\(index % 5)", status: index % 3 == 0 ? .failed : .succeeded, seconds: Double(index), at: now.addingTimeInterval(-Double(index) * 3 * 3607)))
      }
      try await h.record(late)
      let marks = try await store.rollupMarks()
      #expect(marks.days <= marks.hours && marks.hours < now && marks.days > start)

      var generator = SplitMix64(seed: 0x6D61_6573_7472_6F)
      let span = now.timeIntervalSince(start) + 7200
      func point() -> Date {
        var date = start.addingTimeInterval(-3600 + Double(generator.next() % UInt64(span)))
        switch generator.next() % 4 {
        case 0: date = AggregateStore.floorHour(date)
        case 1: date = AggregateStore.floorDay(date)
        case 2: date = Date(timeIntervalSince1970: (date.timeIntervalSince1970 / 60).rounded(.down) * 60)
        default: break
        }
        return date
      }
      var ranges: [AggregateStore.TimeRange] = []
      for _ in 0..<240 {
        let (a, b) = (point(), point())
        ranges.append(.init(start: min(a, b), end: max(a, b)))
      }
      // Windows that all end now, as a status reads them.
      for window: TimeInterval in [300, 1800, 3600, 7200, 21_600, 86_400, 259_200, 518_400] {
        ranges.append(.init(start: now.addingTimeInterval(-window), end: now.addingTimeInterval(0.001)))
      }
      var checked = 0
      for batch in stride(from: 0, to: ranges.count, by: 12) {
        let slice = Array(ranges[batch..<min(ranges.count, batch + 12)])
        let counts = try await store.counts(tenant: "default", filter: .init(kind: .run), ranges: slice, now: now)
        for (range, count) in zip(slice, counts) {
          let truth = try await Self.minuteSum(h, range.start, range.end)
          #expect(count == truth, "range [\(range.start), \(range.end)): pieces \(AggregateStore.pieces(of: range, marks: marks, minuteFloor: .distantPast, hourFloor: .distantPast))")
          checked += 1
        }
      }
      #expect(checked == 248)
      // The ranges did exercise every kind of piece: days, and whole hours or days minus the rest.
      let plans = ranges.map { AggregateStore.pieces(of: $0, marks: marks, minuteFloor: now.addingTimeInterval(-7 * 86_400), hourFloor: now.addingTimeInterval(-90 * 86_400)) }
      #expect(plans.filter { $0.contains { $0.piece.level == .day } }.count > 50)
      #expect(plans.filter { $0.contains { $0.sign < 0 && $0.piece.level == .minute } }.count > 20)
      #expect(plans.filter { $0.contains { $0.sign < 0 && $0.piece.level == .hour } }.count > 20)
      // The filter still applies: one workflow's counts equal its own minutes.
      let one = try await store.counts(tenant: "default", filter: .init(kind: .run, workflow: "w2"), ranges: [.init(start: start, end: now)], now: now)[0]
      let w2 = try await h.engine.database.client.query(
        "SELECT sum(total)::bigint FROM series_minute m JOIN series s ON s.id = m.series_id WHERE s.workflow_or_route = 'w2'").collect()[0].decode(Int64.self)
      #expect(one.total == w2)
    }
  }

  @Test("the signed pieces count every minute of the range exactly once, and each level only where it is complete")
  func piecesCoverTheRange() {
    var generator = SplitMix64(seed: 42)
    let base = Date(timeIntervalSince1970: 1_790_000_000)
    func minute(_ date: Date) -> Date { Date(timeIntervalSince1970: (date.timeIntervalSince1970 / 60).rounded(.down) * 60) }
    for iteration in 0..<3000 {
      let hours = AggregateStore.floorHour(base.addingTimeInterval(Double(generator.next() % (10 * 86_400))))
      let days = AggregateStore.floorDay(hours.addingTimeInterval(-Double(generator.next() % (3 * 86_400))))
      let marks = AggregateStore.RollupMarks(hours: hours, days: days)
      var a = base.addingTimeInterval(Double(generator.next() % (12 * 86_400)) - 86_400)
      var b = a.addingTimeInterval(Double(generator.next() % (iteration % 2 == 0 ? 6 * 86_400 : 7200)))
      if iteration % 3 == 0 { a = minute(a); b = minute(b) }
      let pieces = AggregateStore.pieces(of: .init(start: a, end: b), marks: marks, minuteFloor: .distantPast, hourFloor: .distantPast)
      // Each level only where it is complete, on its own boundaries.
      for signed in pieces {
        let piece = signed.piece
        #expect(piece.start < piece.end)
        switch piece.level {
        case .day:
          #expect(piece.end <= days && piece.start == AggregateStore.floorDay(piece.start) && piece.end == AggregateStore.floorDay(piece.end))
        case .hour:
          #expect(piece.end <= hours && piece.start == AggregateStore.floorHour(piece.start) && piece.end == AggregateStore.floorHour(piece.end))
        case .minute:
          break
        }
      }
      // Every minute bucket around the range and the pieces' edges is counted once if it is in
      // the range, else not at all.
      var points = [a, b]
      for signed in pieces { points += [signed.piece.start, signed.piece.end] }
      for _ in 0..<20 { points.append(a.addingTimeInterval(Double(generator.next() % UInt64(max(60, b.timeIntervalSince(a)))))) }
      var failures = 0
      for point in Set(points.flatMap { [minute($0).addingTimeInterval(-60), minute($0), minute($0).addingTimeInterval(60)] }) {
        var counted: Int64 = 0
        for signed in pieces {
          let bucket: Date
          switch signed.piece.level {
          case .minute: bucket = point
          case .hour: bucket = AggregateStore.floorHour(point)
          case .day: bucket = AggregateStore.floorDay(point)
          }
          if signed.piece.start <= bucket && bucket < signed.piece.end { counted += signed.sign }
        }
        let expected: Int64 = a <= point && point < b ? 1 : 0
        if counted != expected { failures += 1 }
      }
      #expect(failures == 0, "range [\(a), \(b)) marks \(marks): \(pieces)")
    }
  }

  @Test("a 30-day status reads few rows per series: days, a few hours, and at most half an hour of minutes per head")
  func statusPlanIsSmall() {
    var generator = SplitMix64(seed: 7)
    let windows: [TimeInterval] = [30 * 86_400, 300, 1800, 3600, 7200, 21_600, 86_400, 3 * 86_400]
    for _ in 0..<500 {
      let now = Date(timeIntervalSince1970: 1_790_000_000 + Double(generator.next() % (4 * 86_400)))
      let hours = AggregateStore.floorHour(now.addingTimeInterval(-120))
      let marks = AggregateStore.RollupMarks(hours: hours, days: AggregateStore.floorDay(hours))
      let plan = AggregateStore.readPlan(windows.map {
        AggregateStore.pieces(of: .init(start: now.addingTimeInterval(-$0), end: now.addingTimeInterval(0.001)), marks: marks, minuteFloor: .distantPast, hourFloor: .distantPast)
      })
      var rows: [AggregateStore.Level: Double] = [:]
      for segment in plan.segments { rows[segment.level, default: 0] += segment.end.timeIntervalSince(segment.start) / segment.level.seconds }
      // The tail since the hour mark (<= 62 minutes) plus <= 30 minutes per head of the other
      // windows (without the complement a head is up to 59 minutes); <= 12 hours per day head,
      // the shared hours since the day mark, the hours of the short windows and one per minute
      // complement; the days.
      let minuteBound: Double = 62 + 7 * 30 + 1
      let hourBound: Double = 3 * 12 + 23 + 6 + 2 + 1 + 7
      #expect(rows[.minute, default: 0] <= minuteBound, "\(now)")
      #expect(rows[.hour, default: 0] <= hourBound, "\(now)")
      #expect(rows[.day, default: 0] <= 31, "\(now)")
    }
  }

  @Test("the day retention is 400 days by default, set by flag or variable, and at least the hour retention")
  func dayRetentionSetting() throws {
    #expect(try MetricsOptions.parse([]).resolve(environment: [:]).dayRetention == .seconds(400 * 86_400))
    #expect(try MetricsOptions.parse(["--day-retention", "500d"]).resolve(environment: [:]).dayRetention == .seconds(500 * 86_400))
    #expect(try MetricsOptions.parse([]).resolve(environment: ["MAESTRO_METRICS_DAY_RETENTION": "120d"]).dayRetention == .seconds(120 * 86_400))
    let error = #expect(throws: ConfigurationError.self) {
      try MetricsOptions.parse([]).resolve(environment: ["MAESTRO_METRICS_DAY_RETENTION": "30d"])
    }
    #expect(error?.setting == "MAESTRO_METRICS_DAY_RETENTION")
  }

  @Test("retention deletes old minutes, hours and days, but never hours the day rollup has not summed")
  func retentionKeepsUnrolledHours() async throws {
    try await MetricsHarness.with { h in
      let now = h.clock.now
      let start = AggregateStore.floorDay(now.addingTimeInterval(-6 * 86_400))
      try await Self.fill(h, from: start, to: now)
      let total = try await Self.minuteSum(h, start, now)
      var store = h.engine.aggregates
      store.minuteRetention = .seconds(86_400)
      store.hourRetention = .seconds(2 * 86_400)
      store.dayRetention = .seconds(30 * 86_400)
      // Hours rolled up, days not yet: old minutes go, every hour stays.
      try await store.rollupHours(now: now)
      let hoursBefore = try await Self.rowCount(h, "series_hour")
      #expect(try await store.applyRetention(now: now) > 0)
      #expect(try await Self.rowCount(h, "series_hour") == hoursBefore)
      let oldestMinute = try await h.engine.database.client.query("SELECT min(bucket_start) FROM series_minute").collect()[0].decode(Date.self)
      #expect(oldestMinute >= now.addingTimeInterval(-86_400 - 60))
      // Days rolled up only to 4 days ago: hours from there on stay, though older than 2 days.
      let marks = try await store.rollupMarks()
      _ = try await h.engine.database.client.query(
        "UPDATE rollup_progress SET completed_upto = \(AggregateStore.floorDay(now.addingTimeInterval(-4 * 86_400))) WHERE name = 'minute_to_hour'").collect()
      #expect(try await store.rollupDays() >= 1)
      _ = try await h.engine.database.client.query("UPDATE rollup_progress SET completed_upto = \(marks.hours) WHERE name = 'minute_to_hour'").collect()
      let dayMark = try await store.rollupMarks().days
      #expect(dayMark == AggregateStore.floorDay(now.addingTimeInterval(-4 * 86_400)))
      try await store.applyRetention(now: now)
      let oldestHour = try await h.engine.database.client.query("SELECT min(bucket_start) FROM series_hour").collect()[0].decode(Date.self)
      #expect(oldestHour == dayMark)
      // Nothing was lost: days + hours + minutes still add up to every inserted minute.
      let read = try await store.counts(tenant: "default", filter: .init(kind: .run), ranges: [.init(start: start, end: now)], now: now)[0]
      #expect(read == total)
      // Once the days are complete, hours older than the hour retention go too.
      #expect(try await store.rollupDays() >= 2)
      try await store.applyRetention(now: now)
      let oldest = try await h.engine.database.client.query("SELECT min(bucket_start) FROM series_hour").collect()[0].decode(Date.self)
      #expect(oldest >= now.addingTimeInterval(-2 * 86_400))
      #expect(try await store.counts(tenant: "default", filter: .init(kind: .run), ranges: [.init(start: start, end: now)], now: now)[0] == total)
      // Days past their retention are deleted.
      store.dayRetention = .seconds(3 * 86_400)
      try await store.applyRetention(now: now)
      let oldestDay = try await h.engine.database.client.query("SELECT min(bucket_start) FROM series_day").collect()[0].decode(Date.self)
      #expect(oldestDay >= now.addingTimeInterval(-3 * 86_400))
    }
  }
}

/// A small seeded generator, so a failing random range can be reproduced.
struct SplitMix64: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { self.state = seed }
  mutating func next() -> UInt64 {
    self.state &+= 0x9E37_79B9_7F4A_7C15
    var z = self.state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
