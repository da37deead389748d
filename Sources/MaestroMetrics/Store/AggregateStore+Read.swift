import Foundation
import MaestroKit
import PostgresNIO

extension AggregateStore {
  /// A half-open time range [start, end).
  struct TimeRange: Sendable, Hashable {
    var start: Date
    var end: Date
  }

  /// How far the rollups have come: every hour before `hours` is in `series_hour`, every day
  /// before `days` in `series_day` (`days` <= `hours`). Before the first rollup: the epoch.
  struct RollupMarks: Sendable, Hashable {
    var hours: Date
    var days: Date

    static let none = RollupMarks(hours: Date(timeIntervalSince1970: 0), days: Date(timeIntervalSince1970: 0))
  }

  /// Both rollup marks, in one read.
  func rollupMarks() async throws -> RollupMarks {
    let rows = try await self.database.client.query(
      "SELECT name, completed_upto FROM rollup_progress WHERE name IN (\(Self.rollupName), \(Self.dayRollupName))", logger: self.logger
    ).collect()
    var marks = RollupMarks.none
    for row in rows {
      let (name, mark) = try row.decode((String, Date).self)
      if name == Self.rollupName { marks.hours = mark } else { marks.days = mark }
    }
    // The day mark never passes the hour mark; guard the read against a hand-edited row.
    marks.days = min(marks.days, marks.hours)
    return marks
  }

  /// What a read of one filter needs before it is planned: the rollup marks and, when the filter
  /// has an aggregate, its id and the minutes it covers.
  struct ReadState: Sendable {
    var marks: RollupMarks
    var aggregate: (id: Int64, coverage: TimeRange)?
  }

  /// The rollup marks and the filter's aggregate, in one read.
  func readState(tenant: String, filter: FilterKey) async throws -> ReadState {
    let rows = try await self.database.client.query(
      """
      SELECT p.name, p.completed_upto, a.id, a.covered_from FROM rollup_progress p
      LEFT JOIN filter_aggregates a ON p.name = \(Self.filterMarkName) AND a.tenant = \(tenant) AND a.kind = \(filter.kind)
        AND a.workflow_or_route = \(filter.workflowOrRoute) AND a.step_id = \(filter.stepID)
      WHERE p.name IN (\(Self.rollupName), \(Self.dayRollupName), \(Self.filterMarkName))
      """,
      logger: self.logger
    ).collect()
    var state = ReadState(marks: .none)
    for row in rows {
      let (name, mark, id, coveredFrom) = try row.decode((String, Date, Int64?, Date?).self)
      switch name {
      case Self.rollupName: state.marks.hours = mark
      case Self.dayRollupName: state.marks.days = mark
      default:
        if let id, let coveredFrom, coveredFrom < mark { state.aggregate = (id, TimeRange(start: coveredFrom, end: mark)) }
      }
    }
    // The day mark never passes the hour mark; guard the read against a hand-edited row.
    state.marks.days = min(state.marks.days, state.marks.hours)
    return state
  }

  /// How much of the latency histogram a read needs: summing the 21 array elements of every
  /// row dominates a 30-day read, so an SLO reads only what its SLI uses.
  enum LatencyNeed: Sendable, Hashable {
    case none
    /// Only events in the first `buckets` buckets, returned collapsed into bucket 0.
    case below(buckets: Int)
    case all
  }

  /// Counts of the series matching `filter` in `tenant`, for each of `ranges`, in one statement.
  ///
  /// Each range is cut into whole days, whole hours and minutes where the rollups completed
  /// them (``pieces(of:marks:minuteFloor:hourFloor:)``), and the pieces of all ranges are split
  /// into disjoint segments per level: the windows of a status all end now and overlap, so the
  /// rows they share are read once and added to each of them.
  ///
  /// Where the filter has an aggregate, the part of each range it covers is read from it (one
  /// row per bucket for all the series); `useAggregate: false` reads the series only (the same
  /// sums, for checks and the benchmark's comparison).
  func counts(
    tenant: String, filter: SLODefinition.SeriesFilter, ranges: [TimeRange], now: Date, latency: LatencyNeed = .all, useAggregate: Bool = true
  ) async throws -> [OutcomeCounts] {
    let columns = Self.sumColumns(latency)
    var state = try await self.readState(tenant: tenant, filter: FilterKey(filter))
    if !useAggregate { state.aggregate = nil }
    let marks = state.marks
    let minuteFloor = now.addingTimeInterval(-self.minuteRetention.seconds)
    let hourFloor = now.addingTimeInterval(-self.hourRetention.seconds)
    let plan = Self.readPlan(ranges.map {
      Self.pieces(of: $0, coverage: state.aggregate?.coverage, marks: marks, minuteFloor: minuteFloor, hourFloor: hourFloor)
    })
    var result = Array(repeating: OutcomeCounts(), count: ranges.count)
    guard !plan.segments.isEmpty else { return result }
    var bindings = PostgresBindings()
    bindings.append(tenant)
    bindings.append(filter.kind?.rawValue ?? "")
    bindings.append(filter.kind == .request ? filter.route : filter.workflow)
    bindings.append(filter.stepID)
    bindings.append(state.aggregate?.id ?? 0)
    var parts: [String] = []
    for (index, segment) in plan.segments.enumerated() {
      bindings.append(segment.start)
      let a = bindings.count
      bindings.append(segment.end)
      let b = bindings.count
      let rows = segment.source == .series ? "series_id IN (SELECT id FROM s)" : "aggregate_id = $5"
      parts.append(
        "SELECT \(index) AS i, \(columns) FROM \(segment.table) WHERE tenant = $1 AND \(rows) AND bucket_start >= $\(a) AND bucket_start < $\(b)"
      )
    }
    let sql = """
      WITH s AS (
        SELECT id FROM series WHERE tenant = $1 AND ($2 = '' OR kind = $2) AND ($3 = '' OR workflow_or_route = $3)
          AND ($4 = '' OR step_id = $4)
      )
      \(parts.joined(separator: "\nUNION ALL\n"))
      """
    let rows = try await self.database.client.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: self.logger)
    for try await row in rows {
      let (index, counts) = try Self.decodeCounts(row)
      for (rangeIndex, sign) in plan.uses[index] { result[rangeIndex].add(counts, times: sign) }
    }
    return result
  }

  /// `sum()` of every counter and of the histogram buckets `latency` asks for, as bigint.
  static func sumColumns(_ latency: LatencyNeed) -> String {
    let counters = ["total", "success", "failed", "timed_out", "sla_met", "sla_missed", "sum_duration_ms"]
      .map { "coalesce(sum(\($0)), 0)::bigint" }
    let buckets: [String]
    switch latency {
    case .none: buckets = []
    case .below(let count): buckets = ["coalesce(sum(" + (1...max(1, min(21, count))).map { "latency_buckets[\($0)]" }.joined(separator: " + ") + "), 0)::bigint"]
    case .all: buckets = (1...21).map { "coalesce(sum(latency_buckets[\($0)]), 0)::bigint" }
    }
    return (counters + buckets).joined(separator: ", ")
  }

  static func decodeCounts(_ row: PostgresRow) throws -> (Int, OutcomeCounts) {
    var cells = row.makeIterator()
    let index = try cells.next()!.decode(Int.self)
    var values: [Int64] = []
    while let cell = cells.next() { values.append(try cell.decode(Int64.self)) }
    var counts = OutcomeCounts()
    counts.total = values[0]
    counts.success = values[1]
    counts.failed = values[2]
    counts.timedOut = values[3]
    counts.slaMet = values[4]
    counts.slaMissed = values[5]
    counts.sumDurationMilliseconds = values[6]
    counts.cancelled = counts.total - counts.success - counts.failed
    if values.count == 28 {
      counts.latency = LatencyHistogram(counts: Array(values[7..<28]))
    } else if values.count == 8 {
      counts.latency.counts[0] = values[7]
    }
    return (index, counts)
  }

  static func floorHour(_ date: Date) -> Date {
    Date(timeIntervalSince1970: (date.timeIntervalSince1970 / 3600).rounded(.down) * 3600)
  }

  static func ceilHour(_ date: Date) -> Date {
    Date(timeIntervalSince1970: (date.timeIntervalSince1970 / 3600).rounded(.up) * 3600)
  }

  /// The UTC day boundaries around `date` (a day is 86,400 s of the epoch, as in `series_day`'s CHECK).
  static func floorDay(_ date: Date) -> Date {
    Date(timeIntervalSince1970: (date.timeIntervalSince1970 / 86_400).rounded(.down) * 86_400)
  }

  static func ceilDay(_ date: Date) -> Date {
    Date(timeIntervalSince1970: (date.timeIntervalSince1970 / 86_400).rounded(.up) * 86_400)
  }
}

extension OutcomeCounts {
  /// Adds `other` (`sign` 1) or subtracts it (`sign` -1): a read plan may count a whole hour or
  /// day and subtract the part outside the range.
  mutating func add(_ other: OutcomeCounts, times sign: Int64) {
    self.total += sign * other.total
    self.success += sign * other.success
    self.failed += sign * other.failed
    self.cancelled += sign * other.cancelled
    self.timedOut += sign * other.timedOut
    self.slaMet += sign * other.slaMet
    self.slaMissed += sign * other.slaMissed
    self.sumDurationMilliseconds += sign * other.sumDurationMilliseconds
    for index in self.latency.counts.indices { self.latency.counts[index] += sign * other.latency.counts[index] }
  }
}
