import Foundation
import MaestroKit
import PostgresNIO

extension AggregateStore {
  /// A half-open time range [start, end).
  struct TimeRange: Sendable, Hashable {
    var start: Date
    var end: Date
  }

  /// The rollup's progress: every hour before it is in `series_hour`.
  func completedUpto() async throws -> Date? {
    let rows = try await self.database.client.query(
      "SELECT completed_upto FROM rollup_progress WHERE name = \(Self.rollupName)", logger: self.logger
    ).collect()
    return try rows.first?.decode(Date.self)
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
  func counts(tenant: String, filter: SLODefinition.SeriesFilter, ranges: [TimeRange], now: Date, latency: LatencyNeed = .all) async throws -> [OutcomeCounts] {
    let columns = Self.sumColumns(latency)
    let completed = try await self.completedUpto() ?? .distantPast
    let minuteFloor = now.addingTimeInterval(-self.minuteRetention.seconds)
    var bindings = PostgresBindings()
    bindings.append(tenant)
    bindings.append(filter.kind?.rawValue ?? "")
    bindings.append(filter.kind == .request ? filter.route : filter.workflow)
    bindings.append(filter.stepID)
    var parts: [String] = []
    func piece(_ index: Int, _ table: String, _ start: Date, _ end: Date) {
      guard start < end else { return }
      bindings.append(start)
      let a = bindings.count
      bindings.append(end)
      let b = bindings.count
      parts.append(
        "SELECT \(index) AS i, \(columns) FROM \(table) WHERE tenant = $1 AND series_id IN (SELECT id FROM s) AND bucket_start >= $\(a) AND bucket_start < $\(b)"
      )
    }
    for (index, range) in ranges.enumerated() {
      let hourStart = Self.ceilHour(range.start)
      let hourEnd = min(Self.floorHour(range.end), completed)
      if hourStart < hourEnd {
        if range.start < minuteFloor {
          // The head's minutes have aged out: count its whole hour instead.
          piece(index, "series_hour", Self.floorHour(range.start), hourEnd)
        } else {
          piece(index, "series_minute", range.start, hourStart)
          piece(index, "series_hour", hourStart, hourEnd)
        }
        piece(index, "series_minute", hourEnd, range.end)
      } else {
        piece(index, "series_minute", max(range.start, minuteFloor), range.end)
      }
    }
    var result = Array(repeating: OutcomeCounts(), count: ranges.count)
    guard !parts.isEmpty else { return result }
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
      result[index].merge(counts)
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
}
