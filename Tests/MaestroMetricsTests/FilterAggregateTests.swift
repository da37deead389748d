import Foundation
import MaestroKit
@testable import MaestroMetrics
import MaestroProtos
import PostgresNIO
import Testing

@Suite("Filter aggregates: materialised SLO sums stay equal to the raw minutes (real Postgres)")
struct FilterAggregateTests {
  static let allRuns = AggregateStore.FilterKey(kind: "run", workflowOrRoute: "", stepID: "")
  static let oneRun = AggregateStore.FilterKey(kind: "run", workflowOrRoute: "w1", stepID: "")
  static let anything = AggregateStore.FilterKey(kind: "", workflowOrRoute: "", stepID: "")

  static func needs(from: Date) -> [AggregateStore.FilterNeed] {
    [
      .init(tenant: "default", filter: Self.allRuns, from: from),
      .init(tenant: "default", filter: Self.oneRun, from: from),
      .init(tenant: "default", filter: Self.anything, from: from),
      .init(tenant: "other", filter: Self.allRuns, from: from),
    ]
  }

  /// The number of rows of `level` of every aggregate that differ from the recomputation from the
  /// raw minutes (the matching series' minutes inside the aggregate's coverage, summed per
  /// bucket), counting buckets missing on either side, for buckets before `upto`.
  static func drift(_ h: MetricsHarness, level: AggregateStore.Level, upto: Date, filterMark: Date) async throws -> Int64 {
    let width = Int(level.seconds)
    let sums = "sum(total) AS total, sum(success) AS success, sum(failed) AS failed, sum(timed_out) AS timed_out, sum(sla_met) AS sla_met, "
      + "sum(sla_missed) AS sla_missed, sum(sum_duration_ms) AS sum_ms, ARRAY[" + (1...21).map { "sum(latency_buckets[\($0)])" }.joined(separator: ", ") + "] AS lat"
    let rows = try await h.engine.database.client.query(
      PostgresQuery(
        unsafeSQL: """
          WITH m0 AS (
            SELECT a.id, to_timestamp(floor(extract(epoch FROM r.bucket_start) / \(width)) * \(width)) AS b, \(sums)
            FROM filter_aggregates a
            JOIN series s ON s.tenant = a.tenant AND (a.kind = '' OR s.kind = a.kind)
              AND (a.workflow_or_route = '' OR s.workflow_or_route = a.workflow_or_route) AND (a.step_id = '' OR s.step_id = a.step_id)
            JOIN series_minute r ON r.tenant = s.tenant AND r.series_id = s.id
            WHERE r.bucket_start >= a.covered_from AND r.bucket_start < $2
            GROUP BY 1, 2
          ), m AS (
            SELECT * FROM m0 WHERE b < $1
          ), t AS (
            SELECT aggregate_id AS id, bucket_start AS b, \(sums) FROM \(AggregateStore.Piece.table(level, .filter)) WHERE bucket_start < $1 GROUP BY 1, 2
          )
          SELECT count(*) FROM m FULL JOIN t USING (id, b)
          WHERE (m.total, m.success, m.failed, m.timed_out, m.sla_met, m.sla_missed, m.sum_ms, m.lat)
            IS DISTINCT FROM (t.total, t.success, t.failed, t.timed_out, t.sla_met, t.sla_missed, t.sum_ms, t.lat)
          """,
        binds: { var b = PostgresBindings(); b.append(upto); b.append(filterMark); return b }()
      )
    ).collect()
    return try rows[0].decode(Int64.self)
  }

  /// Drift of every level: minutes before the filter mark, hours before the hour mark, days
  /// before the day mark.
  static func totalDrift(_ h: MetricsHarness) async throws -> Int64 {
    let marks = try await h.engine.aggregates.rollupMarks()
    let filterMark = try await Self.filterMark(h)
    var drift: Int64 = 0
    drift += try await Self.drift(h, level: .minute, upto: filterMark, filterMark: filterMark)
    drift += try await Self.drift(h, level: .hour, upto: marks.hours, filterMark: filterMark)
    drift += try await Self.drift(h, level: .day, upto: marks.days, filterMark: filterMark)
    return drift
  }

  static func filterMark(_ h: MetricsHarness) async throws -> Date {
    try await h.engine.database.client.query("SELECT completed_upto FROM rollup_progress WHERE name = 'minute_to_filter'").collect()[0].decode(Date.self)
  }

  /// The brute-force truth for a run filter: the sums over the raw minutes of [start, end).
  static func rawSum(_ h: MetricsHarness, tenant: String = "default", workflow: String = "", _ start: Date, _ end: Date) async throws -> OutcomeCounts {
    let rows = try await h.engine.database.client.query(
      PostgresQuery(
        unsafeSQL: """
          SELECT 0, \(AggregateStore.sumColumns(.all)) FROM series_minute m JOIN series s ON s.id = m.series_id
          WHERE m.tenant = $1 AND s.kind = 'run' AND ($4 = '' OR s.workflow_or_route = $4) AND m.bucket_start >= $2 AND m.bucket_start < $3
          """,
        binds: { var b = PostgresBindings(); b.append(tenant); b.append(start); b.append(end); b.append(workflow); return b }()
      )
    ).collect()
    return try AggregateStore.decodeCounts(rows[0]).1
  }

  @Test("under concurrent ingest (late minutes into rolled-up hours and days), rollups and materialisation, no aggregate drifts from its raw minutes")
  func noDriftUnderConcurrency() async throws {
    try await MetricsHarness.with { h in
      let now = h.clock.now
      let start = AggregateStore.floorDay(now.addingTimeInterval(-5 * 86_400)).addingTimeInterval(3 * 3600 + 13 * 60)
      try await DayRollupTests.fill(h, from: start, to: now)
      try await DayRollupTests.fill(h, tenant: "other", series: 2, from: start, to: now)
      let store = h.engine.aggregates
      // The rollups lag 20 hours, the aggregates start 16 hours back (created, aligned to their
      // day and backfilled to the day of `start`).
      try await store.rollup(now: now.addingTimeInterval(-20 * 3600))
      let first = try await store.materialiseFilters(now: now.addingTimeInterval(-16 * 3600), needs: Self.needs(from: start))
      #expect(first.created == 4 && first.dropped == 0)
      #expect(first.backfilledDays >= 4 * 4)
      #expect(try await Self.totalDrift(h) == 0)

      // Concurrently: ingest of late and current events (batches of 40 over the whole 5 days, in
      // one new series too), the materialiser and the rollups moving forward in steps.
      let steps = 8
      try await withThrowingTaskGroup(of: Void.self) { group in
        for worker in 0..<3 {
          group.addTask {
            var generator = SplitMix64(seed: UInt64(worker + 1) * 7919)
            for _ in 0..<steps {
              var events: [Maestro_Metrics_V1_OutcomeEvent] = []
              for index in 0..<40 {
                let at = now.addingTimeInterval(-Double(generator.next() % UInt64(now.timeIntervalSince(start))))
                let workflow = index % 9 == 0 ? "late-only" : "w\(generator.next() % 4)"
                events.append(MetricsHarness.run(
                  workflow, tenant: index % 5 == 0 ? "other" : "default", status: index % 4 == 0 ? .failed : index % 7 == 0 ? .cancelled : .succeeded,
                  seconds: Double(generator.next() % 400) / 7, slaMet: index % 3 == 0 ? nil : index % 2 == 0, at: at))
              }
              try await h.record(events.filter { $0.tenant == "default" })
              try await h.record(events.filter { $0.tenant == "other" }, tenant: "other")
            }
          }
        }
        group.addTask {
          for step in 1...steps {
            try await store.materialiseFilters(now: now.addingTimeInterval(-16 * 3600 + Double(step) * 2 * 3600 - 7 * 60), needs: Self.needs(from: start))
          }
        }
        group.addTask {
          for step in 1...steps {
            try await store.rollup(now: now.addingTimeInterval(-20 * 3600 + Double(step) * 2.5 * 3600))
          }
        }
        try await group.waitForAll()
      }
      try await store.materialiseFilters(now: now, needs: Self.needs(from: start))
      let marks = try await store.rollupMarks()
      let filterMark = try await Self.filterMark(h)
      #expect(filterMark >= marks.hours && marks.hours > marks.days && marks.days > start)
      #expect(try await Self.totalDrift(h) == 0)

      // Reads through the aggregates equal the raw minutes, for the windows of a status and
      // for ranges across the coverage's edges.
      var ranges: [AggregateStore.TimeRange] = [300, 1800, 3600, 7200, 21_600, 86_400, 259_200, 4 * 86_400].map {
        .init(start: now.addingTimeInterval(-$0), end: now.addingTimeInterval(0.001))
      }
      ranges += [
        .init(start: start.addingTimeInterval(-3600), end: now),
        .init(start: filterMark.addingTimeInterval(-95 * 60), end: filterMark.addingTimeInterval(95)),
        .init(start: marks.days.addingTimeInterval(-3 * 3600 - 17), end: marks.hours.addingTimeInterval(61 * 60)),
      ]
      let state = try await store.readState(tenant: "default", filter: Self.allRuns)
      #expect(state.aggregate?.coverage.start == AggregateStore.floorDay(start))
      #expect(state.aggregate?.coverage.end == filterMark)
      for (filter, workflow) in [(SLODefinition.SeriesFilter(kind: .run), ""), (.init(kind: .run, workflow: "w1"), "w1")] {
        let counts = try await store.counts(tenant: "default", filter: filter, ranges: ranges, now: now)
        for (range, count) in zip(ranges, counts) {
          #expect(count == (try await Self.rawSum(h, workflow: workflow, range.start, range.end)), "\(workflow) [\(range.start), \(range.end))")
        }
      }
      let other = try await store.counts(tenant: "other", filter: .init(kind: .run), ranges: [ranges[7]], now: now)[0]
      #expect(other == (try await Self.rawSum(h, tenant: "other", ranges[7].start, ranges[7].end)))
      #expect(other.total > 0)
    }
  }

  @Test("the drift check catches a changed aggregate row")
  func driftIsDetected() async throws {
    try await MetricsHarness.with { h in
      let now = h.clock.now
      try await DayRollupTests.fill(h, from: AggregateStore.floorDay(now.addingTimeInterval(-2 * 86_400)), to: now)
      try await h.engine.aggregates.rollup(now: now)
      try await h.engine.aggregates.materialiseFilters(now: now, needs: Self.needs(from: now.addingTimeInterval(-3 * 86_400)))
      #expect(try await Self.totalDrift(h) == 0)
      for table in ["filter_minute", "filter_hour", "filter_day"] {
        _ = try await h.engine.database.client.query(
          PostgresQuery(unsafeSQL: "UPDATE \(table) SET sum_duration_ms = sum_duration_ms + 1 WHERE ctid = (SELECT min(ctid) FROM \(table))")).collect()
        #expect(try await Self.totalDrift(h) == 1, "\(table)")
        _ = try await h.engine.database.client.query(
          PostgresQuery(unsafeSQL: "UPDATE \(table) SET timed_out = timed_out + 1 WHERE ctid = (SELECT max(ctid) FROM \(table))")).collect()
        #expect(try await Self.totalDrift(h) <= 2)
        _ = try await h.engine.database.client.query(PostgresQuery(unsafeSQL: "DELETE FROM \(table)")).collect()
        #expect(try await Self.totalDrift(h) > 0)
        // Re-create the aggregates from scratch.
        try await h.engine.aggregates.materialiseFilters(now: now, needs: [])
        try await h.engine.aggregates.materialiseFilters(now: now, needs: Self.needs(from: now.addingTimeInterval(-3 * 86_400)))
        #expect(try await Self.totalDrift(h) == 0)
      }
    }
  }

  @Test("a status reflects events recorded a moment ago and late events before the mark; aggregates follow the SLOs")
  func statusIsCurrentAndAggregatesFollowSLOs() async throws {
    try await MetricsHarness.with { h in
      let now = h.clock.now
      try await DayRollupTests.fill(h, from: AggregateStore.floorDay(now.addingTimeInterval(-3 * 86_400)), to: now)
      let store = h.engine.aggregates
      try await store.rollup(now: now)
      _ = try await h.engine.slos.installAbsent(SLODefaults.all, tenant: "default", source: "default")
      let slos = try await h.engine.slos.allEnabled(enabledOnly: false).map { ($0.tenant, $0.definition) }
      #expect(!slos.isEmpty)
      let needs = AggregateStore.filterNeeds(slos, now: now)
      // The shipped SLOs share filters (e.g. every run), so there are fewer aggregates than SLOs.
      #expect(needs.count < slos.count)
      let done = try await store.materialiseFilters(now: now, needs: needs)
      #expect(done.created == needs.count)
      let window = AggregateStore.TimeRange(start: now.addingTimeInterval(-86_400), end: now.addingTimeInterval(0.001))
      let before = try await store.counts(tenant: "default", filter: .init(kind: .run), ranges: [window], now: now)[0]
      #expect(try await store.readState(tenant: "default", filter: Self.allRuns).aggregate != nil)
      // Now (after the mark, read from the series) and 30 minutes ago (before it: ingest adds it
      // to the aggregate).
      try await h.record([
        MetricsHarness.run("w1", status: .failed, at: now.addingTimeInterval(-1)),
        MetricsHarness.run("w2", status: .succeeded, at: now.addingTimeInterval(-1800)),
      ])
      let after = try await store.counts(tenant: "default", filter: .init(kind: .run), ranges: [window], now: now)[0]
      #expect(after.total == before.total + 2 && after.failed == before.failed + 1)
      #expect(after == (try await Self.rawSum(h, window.start, window.end)))
      #expect(try await Self.totalDrift(h) == 0)
      // Through the API as well.
      let status = try await h.client.getSLOStatus(.with { $0.sloName = "workflow-success-rate" }, metadata: try await h.user()).status
      #expect(status.totalEvents > 0)

      // An SLO with a new filter gets an aggregate; one no SLO uses any more is dropped.
      let withNew = needs + [.init(tenant: "default", filter: Self.oneRun, from: now.addingTimeInterval(-86_400))]
      let grown = try await store.materialiseFilters(now: now, needs: withNew)
      let mark = try await Self.filterMark(h)
      let days = Int(AggregateStore.floorDay(mark).timeIntervalSince(AggregateStore.floorDay(now.addingTimeInterval(-86_400))) / 86_400)
      #expect(grown.created == 1 && grown.dropped == 0 && grown.backfilledDays == days)
      let shrunk = try await store.materialiseFilters(now: now, needs: Array(withNew.dropFirst()))
      #expect(shrunk.created == 0 && shrunk.dropped == 1)
      let left = try await h.engine.database.client.query("SELECT count(*) FROM filter_aggregates").collect()[0].decode(Int64.self)
      #expect(left == Int64(withNew.count - 1))
      #expect(try await Self.totalDrift(h) == 0)
    }
  }

  @Test("retention cuts the aggregates like the series, and reads through them still equal reads of the series")
  func retentionKeepsAggregatesInStep() async throws {
    try await MetricsHarness.with { h in
      let now = h.clock.now
      let start = AggregateStore.floorDay(now.addingTimeInterval(-6 * 86_400)).addingTimeInterval(5 * 3600 + 11 * 60)
      try await DayRollupTests.fill(h, from: start, to: now)
      var store = h.engine.aggregates
      store.minuteRetention = .seconds(86_400)
      store.hourRetention = .seconds(3 * 86_400)
      try await store.rollup(now: now)
      try await store.materialiseFilters(now: now, needs: Self.needs(from: start))
      #expect(try await store.applyRetention(now: now) > 0)
      for level in [AggregateStore.Level.minute, .hour] {
        let oldest = { (source: AggregateStore.Source) in
          try await h.engine.database.client.query(PostgresQuery(unsafeSQL: "SELECT min(bucket_start) FROM \(AggregateStore.Piece.table(level, source))")).collect()[0].decode(Date.self)
        }
        #expect(try await oldest(.filter) == (try await oldest(.series)), "\(level)")
      }
      // Every window of a status, and ranges whose heads have aged out of minutes and hours.
      let lengths: [TimeInterval] = [300, 3600, 21_600, 87_634, 172_877, 359_860, 432_000]
      let ranges = lengths.map { AggregateStore.TimeRange(start: now.addingTimeInterval(-$0), end: now.addingTimeInterval(0.001)) }
      for filter in [SLODefinition.SeriesFilter(kind: .run), .init(kind: .run, workflow: "w1"), .init()] {
        let viaAggregate = try await store.counts(tenant: "default", filter: filter, ranges: ranges, now: now)
        let viaSeries = try await store.counts(tenant: "default", filter: filter, ranges: ranges, now: now, useAggregate: false)
        #expect(viaAggregate == viaSeries, "\(filter)")
        #expect(viaAggregate.allSatisfy { $0.total > 0 })
      }
    }
  }

  @Test("the pieces of a range are cut at the coverage: series before and after it, the aggregate inside")
  func piecesAroundCoverage() {
    let base = AggregateStore.floorDay(Date(timeIntervalSince1970: 1_790_000_000))
    let marks = AggregateStore.RollupMarks(hours: base.addingTimeInterval(5 * 86_400 + 7 * 3600), days: base.addingTimeInterval(5 * 86_400))
    let coverage = AggregateStore.TimeRange(start: base.addingTimeInterval(2 * 86_400), end: base.addingTimeInterval(5 * 86_400 + 7 * 3600 + 23 * 60))
    let range = AggregateStore.TimeRange(start: base.addingTimeInterval(86_400 + 1234), end: base.addingTimeInterval(5 * 86_400 + 7 * 3600 + 31 * 60))
    let pieces = AggregateStore.pieces(of: range, coverage: coverage, marks: marks, minuteFloor: .distantPast, hourFloor: .distantPast)
    let series = pieces.filter { $0.piece.source == .series }
    let filter = pieces.filter { $0.piece.source == .filter }
    #expect(series.allSatisfy { $0.piece.end <= coverage.start || $0.piece.start >= coverage.end })
    #expect(filter.allSatisfy { $0.piece.start >= coverage.start && $0.piece.end <= coverage.end })
    #expect(filter.filter { $0.piece.level == .day }.count == 1)
    #expect(filter.contains { $0.piece.level == .day && $0.piece.start == coverage.start && $0.piece.end == marks.days })
    // After the coverage: the 8 minutes of the current hour from the series.
    #expect(series.contains { $0.piece == .init(level: .minute, start: coverage.end, end: range.end, source: .series) && $0.sign == 1 })
    // Without coverage, or outside it, everything comes from the series.
    #expect(AggregateStore.pieces(of: range, coverage: nil, marks: marks, minuteFloor: .distantPast, hourFloor: .distantPast)
      == AggregateStore.pieces(of: range, marks: marks, minuteFloor: .distantPast, hourFloor: .distantPast))
    let later = AggregateStore.TimeRange(start: coverage.end, end: range.end)
    #expect(AggregateStore.pieces(of: later, coverage: coverage, marks: marks, minuteFloor: .distantPast, hourFloor: .distantPast).allSatisfy { $0.piece.source == .series })
    // The read plan keeps the two sources apart.
    let plan = AggregateStore.readPlan([pieces])
    #expect(Set(plan.segments.map(\.source)) == [.series, .filter])
  }
}
