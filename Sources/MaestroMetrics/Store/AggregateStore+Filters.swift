import Foundation
import MaestroKit
import PostgresNIO

/// Filter aggregates: per SLO series filter, the sum of its series per minute, hour and day
/// (`filter_minute`, `filter_hour`, `filter_day`), so a status over many series reads one row
/// per bucket instead of one per series and bucket.
///
/// An aggregate covers the minutes [`covered_from`, the `minute_to_filter` mark): for every
/// level and bucket, its row is the sum of the matching series' minutes of that bucket inside the
/// coverage (for buckets whose minutes have aged out: of the series' rows of that level). Kept so by
/// - ``materialiseFilters(now:needs:grace:)`` (the rollup worker): advances the mark, summing the
///   series' minutes of [old mark, new mark) into every aggregate; creates the aggregates of new
///   SLO filters, aligned to the start of the day; backfills them one whole day per transaction
///   by copying each level of the series; drops the aggregates no SLO uses;
/// - ingest: a minute before the mark is added to the aggregates covering it, in the ingest
///   transaction (``filterRows(for:keys:below:on:)``);
/// - the rollups and retention, which treat the `filter_*` tables like the `series_*` tables.
/// The mark is locked `FOR UPDATE` by the materialiser and `FOR SHARE` by ingest, and the
/// materialiser holds the two rollup marks `FOR SHARE` like ingest does, so no minute is summed
/// twice or lost between them.
extension AggregateStore {
  /// A series filter as stored in `filter_aggregates` ('' matches everything).
  struct FilterKey: Sendable, Hashable, Comparable {
    var kind: String
    var workflowOrRoute: String
    var stepID: String

    init(kind: String, workflowOrRoute: String, stepID: String) {
      self.kind = kind
      self.workflowOrRoute = workflowOrRoute
      self.stepID = stepID
    }

    /// The same reading of a filter as the status query's series selection.
    init(_ filter: SLODefinition.SeriesFilter) {
      self.kind = filter.kind?.rawValue ?? ""
      self.workflowOrRoute = filter.kind == .request ? filter.route : filter.workflow
      self.stepID = filter.stepID
    }

    func matches(_ series: SeriesKey) -> Bool {
      (self.kind.isEmpty || self.kind == series.kind.rawValue)
        && (self.workflowOrRoute.isEmpty || self.workflowOrRoute == series.workflowOrRoute)
        && (self.stepID.isEmpty || self.stepID == series.stepID)
    }

    static func < (lhs: Self, rhs: Self) -> Bool {
      (lhs.kind, lhs.workflowOrRoute, lhs.stepID) < (rhs.kind, rhs.workflowOrRoute, rhs.stepID)
    }
  }

  /// An aggregate the SLOs need: its filter, and the oldest minute their windows read.
  struct FilterNeed: Sendable, Hashable {
    var tenant: String
    var filter: FilterKey
    var from: Date
  }

  /// The filter needs of `slos`: one per (tenant, filter), from the longest window.
  static func filterNeeds(_ slos: [(String, SLODefinition)], now: Date) -> [FilterNeed] {
    var oldest: [String: [FilterKey: Date]] = [:]
    for (tenant, slo) in slos {
      let from = now.addingTimeInterval(-slo.window.seconds)
      let key = FilterKey(slo.filter)
      oldest[tenant, default: [:]][key] = min(oldest[tenant]?[key] ?? from, from)
    }
    return oldest.keys.sorted().flatMap { tenant in
      oldest[tenant]!.keys.sorted().map { FilterNeed(tenant: tenant, filter: $0, from: oldest[tenant]![$0]!) }
    }
  }

  /// What one ``materialiseFilters(now:needs:grace:)`` did.
  struct FilterMaterialisation: Sendable, Hashable {
    /// Minutes the mark advanced.
    var minutes = 0
    var created = 0
    var dropped = 0
    /// Whole days copied into aggregates.
    var backfilledDays = 0
  }

  /// Brings the filter aggregates up to date: drops the ones no SLO needs, creates the missing
  /// ones, advances the mark to `grace` before `now` (one transaction), then backfills each
  /// aggregate back to the day of its need's `from`, one day per transaction (each holds the
  /// mark, so ingest waits for one day's copy at most).
  @discardableResult
  func materialiseFilters(now: Date, needs: [FilterNeed], grace: Duration = .seconds(120)) async throws -> FilterMaterialisation {
    var result = FilterMaterialisation()
    let target = Self.floorMinute(now.addingTimeInterval(-grace.seconds))
    try await self.database.withTransaction { connection in
      let locked = try await self.lockForFilters(connection)
      let from = locked.filterMark.timeIntervalSince1970 == 0 ? target : locked.filterMark
      let upto = max(from, target)
      var bindings = PostgresBindings()
      bindings.append(needs.map(\.tenant))
      bindings.append(needs.map(\.filter.kind))
      bindings.append(needs.map(\.filter.workflowOrRoute))
      bindings.append(needs.map(\.filter.stepID))
      let wanted = "unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS n(tenant, kind, name, step)"
      result.dropped = try await connection.query(
        PostgresQuery(
          unsafeSQL: """
            DELETE FROM filter_aggregates a WHERE NOT EXISTS (
              SELECT 1 FROM \(wanted) WHERE n.tenant = a.tenant AND n.kind = a.kind AND n.name = a.workflow_or_route AND n.step = a.step_id)
            RETURNING 1
            """,
          binds: bindings),
        logger: self.logger
      ).collect().count
      bindings.append(from)
      let created = try await connection.query(
        PostgresQuery(
          unsafeSQL: """
            INSERT INTO filter_aggregates (tenant, kind, workflow_or_route, step_id, covered_from)
            SELECT tenant, kind, name, step, $5 FROM \(wanted) ORDER BY 1, 2, 3, 4
            ON CONFLICT (tenant, kind, workflow_or_route, step_id) DO NOTHING
            RETURNING id
            """,
          binds: bindings),
        logger: self.logger
      ).collect().map { try $0.decode(Int64.self) }
      result.created = created.count
      if !created.isEmpty {
        // Start new aggregates at the start of the mark's day: add the minutes of the day so far.
        let dayStart = Self.floorDay(from)
        try await self.sumSeries(from: .minute, into: .minute, dayStart, from, aggregates: created, marks: locked.levels, on: connection)
        _ = try await connection.query(
          "UPDATE filter_aggregates SET covered_from = \(dayStart) WHERE id = ANY(\(created))", logger: self.logger
        ).collect()
      }
      if from < upto {
        try await self.sumSeries(from: .minute, into: .minute, from, upto, aggregates: nil, marks: locked.levels, on: connection)
      }
      _ = try await connection.query(
        "UPDATE rollup_progress SET completed_upto = \(upto), updated_at = now() WHERE name = \(Self.filterMarkName)", logger: self.logger
      ).collect()
      result.minutes = Int(upto.timeIntervalSince(from) / 60)
    }
    // Backfill, oldest need first per aggregate, one day per transaction.
    let rows = try await self.database.client.query(
      "SELECT id, tenant, kind, workflow_or_route, step_id, covered_from FROM filter_aggregates ORDER BY id", logger: self.logger
    ).collect()
    var needed: [String: [FilterKey: Date]] = [:]
    for need in needs { needed[need.tenant, default: [:]][need.filter] = Self.floorDay(need.from) }
    for row in rows {
      let (id, tenant, kind, name, step, coveredFrom) = try row.decode((Int64, String, String, String, String, Date).self)
      guard let floor = needed[tenant]?[FilterKey(kind: kind, workflowOrRoute: name, stepID: step)] else { continue }
      var covered = coveredFrom
      while covered > floor {
        guard let next = try await self.backfillDay(aggregate: id, floor: floor) else { break }
        covered = next
        result.backfilledDays += 1
      }
    }
    return result
  }

  /// Extends the aggregate's coverage by the whole day before it, copying each level of the
  /// matching series into the aggregate. Returns the new `covered_from` (nil: nothing to do).
  func backfillDay(aggregate id: Int64, floor: Date) async throws -> Date? {
    try await self.database.withTransaction { connection in
      let locked = try await self.lockForFilters(connection)
      let rows = try await connection.query("SELECT covered_from FROM filter_aggregates WHERE id = \(id)", logger: self.logger).collect()
      guard let coveredFrom = try rows.first?.decode(Date.self), coveredFrom > floor else { return nil }
      let dayStart = Self.floorDay(coveredFrom.addingTimeInterval(-1))
      if dayStart.addingTimeInterval(86_400) == coveredFrom {
        // Every bucket of the day lies before the coverage, so the aggregate has none of them yet.
        for level in [Level.minute, .hour, .day] {
          try await self.sumSeries(from: level, into: level, dayStart, coveredFrom, aggregates: [id], marks: nil, on: connection)
        }
      } else {
        // Not aligned (an aggregate of an older build): the rest of its first day, from minutes.
        try await self.sumSeries(from: .minute, into: .minute, dayStart, coveredFrom, aggregates: [id], marks: locked.levels, on: connection)
      }
      _ = try await connection.query("UPDATE filter_aggregates SET covered_from = \(dayStart) WHERE id = \(id)", logger: self.logger).collect()
      return dayStart
    }
  }

  /// The marks, locked as the filter materialiser needs them, in name order (as ingest locks
  /// them): `hour_to_day` and `minute_to_hour` shared, `minute_to_filter` exclusively.
  private func lockForFilters(_ connection: PostgresConnection) async throws -> (filterMark: Date, levels: LevelMarks) {
    _ = try await connection.query(
      "INSERT INTO rollup_progress (name, completed_upto) VALUES (\(Self.filterMarkName), to_timestamp(0)) ON CONFLICT DO NOTHING", logger: self.logger
    ).collect()
    var levels = LevelMarks()
    var filterMark = Date(timeIntervalSince1970: 0)
    for (name, lock) in [(Self.dayRollupName, "SHARE"), (Self.filterMarkName, "UPDATE"), (Self.rollupName, "SHARE")] {
      let rows = try await connection.query(
        PostgresQuery(unsafeSQL: "SELECT completed_upto FROM rollup_progress WHERE name = $1 FOR \(lock)", binds: { var b = PostgresBindings(); b.append(name); return b }()),
        logger: self.logger
      ).collect()
      let mark = try rows.first?.decode(Date.self)
      switch name {
      case Self.dayRollupName: levels.days = mark
      case Self.rollupName: levels.hours = mark
      default: filterMark = mark ?? filterMark
      }
    }
    return (filterMark, levels)
  }

  /// Adds the rows of level `source` of every series matching an aggregate's filter, with
  /// buckets in [start, end), to level `target` of the aggregates `aggregates` (nil: all).
  /// With `marks`, minutes are also added to the aggregates' hours (days) before the hour (day)
  /// mark, as ingest does for a late minute.
  func sumSeries(
    from source: Level, into target: Level, _ start: Date, _ end: Date, aggregates: [Int64]?, marks: LevelMarks?, on connection: PostgresConnection
  ) async throws {
    guard start < end else { return }
    var targets: [(Level, Date)] = [(target, end)]
    if let marks, source == .minute {
      if let hours = marks.hours, start < hours { targets.append((.hour, min(end, hours))) }
      if let days = marks.days, start < days { targets.append((.day, min(end, days))) }
    }
    let sums = (["total", "success", "failed", "timed_out", "sla_met", "sla_missed", "sum_duration_ms"].map { "sum(r.\($0))::bigint" }
      + ["ARRAY[" + (1...21).map { "sum(r.latency_buckets[\($0)])::bigint" }.joined(separator: ", ") + "]"]).joined(separator: ", ")
    let sumArrays = "ARRAY[" + (1...21).map { "f.latency_buckets[\($0)] + EXCLUDED.latency_buckets[\($0)]" }.joined(separator: ", ") + "]"
    for (level, upto) in targets where start < upto {
      let bucket = level == source ? "r.bucket_start" : "to_timestamp(floor(extract(epoch FROM r.bucket_start) / \(Int(level.seconds))) * \(Int(level.seconds)))"
      var bindings = PostgresBindings()
      bindings.append(start)
      bindings.append(upto)
      bindings.append(aggregates ?? [])
      let sql = """
        INSERT INTO \(Piece.table(level, .filter)) AS f (tenant, aggregate_id, bucket_start, total, success, failed, timed_out, sla_met, sla_missed, sum_duration_ms, latency_buckets)
        SELECT a.tenant, a.id, \(bucket), \(sums)
        FROM filter_aggregates a
        JOIN series s ON s.tenant = a.tenant AND (a.kind = '' OR s.kind = a.kind)
          AND (a.workflow_or_route = '' OR s.workflow_or_route = a.workflow_or_route) AND (a.step_id = '' OR s.step_id = a.step_id)
        JOIN \(source.table) r ON r.tenant = s.tenant AND r.series_id = s.id AND r.bucket_start >= $1 AND r.bucket_start < $2
        WHERE \(aggregates == nil ? "cardinality($3::bigint[]) = 0" : "a.id = ANY($3::bigint[])")
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (tenant, aggregate_id, bucket_start) DO UPDATE SET
          total = f.total + EXCLUDED.total, success = f.success + EXCLUDED.success, failed = f.failed + EXCLUDED.failed,
          timed_out = f.timed_out + EXCLUDED.timed_out, sla_met = f.sla_met + EXCLUDED.sla_met, sla_missed = f.sla_missed + EXCLUDED.sla_missed,
          sum_duration_ms = f.sum_duration_ms + EXCLUDED.sum_duration_ms, latency_buckets = \(sumArrays)
        """
      _ = try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: self.logger).collect()
    }
  }

  /// Ingest's part: the minutes of `rows` (of the series `keys`, row by row) before the filter
  /// mark, as rows of every aggregate whose filter matches and whose coverage starts at or before
  /// the minute, sorted and merged per (tenant, aggregate, minute).
  func filterRows(for rows: AggregateRows, keys: [SeriesKey], below mark: Date, on connection: PostgresConnection) async throws -> AggregateRows {
    let tenants = Array(Set(rows.tenants)).sorted()
    let stored = try await connection.query(
      "SELECT id, tenant, kind, workflow_or_route, step_id, covered_from FROM filter_aggregates WHERE tenant = ANY(\(tenants))", logger: self.logger
    ).collect()
    var aggregates: [String: [(id: Int64, filter: FilterKey, from: Date)]] = [:]
    for row in stored {
      let (id, tenant, kind, name, step, from) = try row.decode((Int64, String, String, String, String, Date).self)
      aggregates[tenant, default: []].append((id, FilterKey(kind: kind, workflowOrRoute: name, stepID: step), from))
    }
    var hits: [(tenant: String, id: Int64, bucket: Date, row: Int)] = []
    for index in rows.buckets.indices where rows.buckets[index] < mark {
      for aggregate in aggregates[rows.tenants[index]] ?? [] where aggregate.from <= rows.buckets[index] && aggregate.filter.matches(keys[index]) {
        hits.append((rows.tenants[index], aggregate.id, rows.buckets[index], index))
      }
    }
    hits.sort { ($0.tenant, $0.id, $0.bucket) < ($1.tenant, $1.id, $1.bucket) }
    var result = AggregateRows()
    for hit in hits { result.add(rows, row: hit.row, id: hit.id, bucket: hit.bucket) }
    return result
  }

  static func floorMinute(_ date: Date) -> Date {
    Date(timeIntervalSince1970: (date.timeIntervalSince1970 / 60).rounded(.down) * 60)
  }
}
