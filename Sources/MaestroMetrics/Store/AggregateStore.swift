import Foundation
import Logging
import MaestroCore
import MaestroKit
import PostgresNIO
import Synchronization

/// The aggregate tables: ingest upserts into `series_minute`, the status and stats reads, the
/// minute → hour → day rollups and retention.
///
/// Reads of a time range use whole days from `series_day` and whole hours from `series_hour`
/// where the rollups have completed them and minutes elsewhere, so a 30-day status reads ~30
/// daily rows per series (plus the partial days at both ends) instead of 43,200 minutes.
struct AggregateStore: Sendable {
  let database: Database
  let logger: Logger
  private let seriesIDs = SeriesCache()
  /// Minutes are kept this long (ingest rejects older events; reads use hours beyond it).
  var minuteRetention: Duration
  /// Hours are kept this long (reads use days beyond it), but never deleted before they are in
  /// a day; days are kept `dayRetention`.
  var hourRetention: Duration
  var dayRetention: Duration

  init(
    database: Database, logger: Logger, minuteRetention: Duration = .seconds(7 * 86_400), hourRetention: Duration = .seconds(90 * 86_400),
    dayRetention: Duration = .seconds(400 * 86_400)
  ) {
    self.database = database
    self.logger = logger
    self.minuteRetention = minuteRetention
    self.hourRetention = hourRetention
    self.dayRetention = dayRetention
  }

  /// `rollup_progress` rows: every hour before `minute_to_hour`'s mark is in `series_hour`, every
  /// day before `hour_to_day`'s mark is in `series_day` (and that mark never passes the first).
  static let rollupName = "minute_to_hour"
  static let dayRollupName = "hour_to_day"
  /// Every minute before this mark (and at or after an aggregate's `covered_from`) is in the
  /// filter aggregates (``materialiseFilters(now:needs:grace:)``).
  static let filterMarkName = "minute_to_filter"

  // MARK: Ingest

  /// Records `batch` once per (caller, batch id) in one transaction. Returns false when the
  /// batch id was seen before (nothing is recorded then).
  func record(_ batch: IngestBatch, batchID: String, caller: Principal) async throws -> Bool {
    let keys = batch.minutes.keys.sorted()
    let ids = try await self.resolveSeries(keys)
    var rows = AggregateRows()
    var rowKeys: [SeriesKey] = []
    for key in keys {
      let byMinute = batch.minutes[key]!
      for minute in byMinute.keys.sorted() {
        rows.append(tenant: key.tenant, id: ids[key]!, bucket: Date(timeIntervalSince1970: TimeInterval(minute)), counts: byMinute[minute]!)
        rowKeys.append(key)
      }
    }
    return try await self.database.withTransaction { connection in
      if !batchID.isEmpty {
        let inserted = try await connection.query(
          """
          INSERT INTO ingest_batches (caller_tenant, caller_subject, batch_id, events)
          VALUES (\(caller.tenant), \(caller.subject), \(batchID), \(batch.accepted))
          ON CONFLICT DO NOTHING RETURNING 1
          """,
          logger: self.logger
        ).collect()
        if inserted.isEmpty { return false }
      }
      guard !rows.isEmpty else { return true }
      // Shared with other ingesters, exclusive with each rollup and the filter materialiser: a
      // minute that lands in an hour (or day) a rollup has already summed is added to that hour
      // (and day) as well, and a minute before the filter mark to the filter aggregates covering
      // it; never lost between the levels nor counted twice. The rows are locked in name order.
      let progress = try await connection.query(
        """
        SELECT name, completed_upto FROM rollup_progress WHERE name IN (\(Self.rollupName), \(Self.dayRollupName), \(Self.filterMarkName))
        ORDER BY name FOR SHARE
        """,
        logger: self.logger
      ).collect()
      var marks: [String: Date] = [:]
      for row in progress {
        let (name, mark) = try row.decode((String, Date).self)
        marks[name] = mark
      }
      let levels = LevelMarks(hours: marks[Self.rollupName], days: marks[Self.dayRollupName])
      try await self.write(rows, source: .series, marks: levels, on: connection)
      if let filterMark = marks[Self.filterMarkName], rows.buckets.contains(where: { $0 < filterMark }) {
        let late = try await self.filterRows(for: rows, keys: rowKeys, below: filterMark, on: connection)
        try await self.write(late, source: .filter, marks: levels, on: connection)
      }
      return true
    }
  }

  /// The hour and day marks as read under the rollups' shared lock (nil: no such row yet).
  struct LevelMarks: Sendable {
    var hours: Date?
    var days: Date?
  }

  /// Upserts `rows` (minutes, sorted by tenant, id and minute) into the minute table of `source`
  /// and adds the ones before the hour (day) mark to their hours (days), as one upsert per level.
  /// The caller holds the rollup marks `FOR SHARE` (or stronger).
  func write(_ rows: AggregateRows, source: Source, marks: LevelMarks, on connection: PostgresConnection) async throws {
    guard !rows.isEmpty else { return }
    try await self.upsert(Piece.table(.minute, source), key: source.keyColumn, rows: rows, on: connection)
    for (level, mark) in [(Level.hour, marks.hours), (Level.day, marks.days)] {
      guard let mark, rows.buckets.contains(where: { $0 < mark }) else { continue }
      try await self.upsert(Piece.table(level, source), key: source.keyColumn, rows: rows.merged(below: mark, width: level.seconds), on: connection)
    }
  }

  func upsert(_ table: String, key: String, rows: AggregateRows, on connection: PostgresConnection) async throws {
    guard !rows.isEmpty else { return }
    var bindings = PostgresBindings()
    bindings.append(rows.tenants)
    bindings.append(rows.ids)
    bindings.append(rows.buckets)
    for column in rows.columns { bindings.append(column) }
    bindings.append(rows.latency)
    let sumArrays = "ARRAY[" + (1...21).map { "m.latency_buckets[\($0)] + EXCLUDED.latency_buckets[\($0)]" }.joined(separator: ", ") + "]"
    // Rows are sorted by (tenant, id, bucket), so concurrent batches lock rows in the same order.
    let sql = """
      INSERT INTO \(table) AS m (tenant, \(key), bucket_start, total, success, failed, timed_out, sla_met, sla_missed, sum_duration_ms, latency_buckets)
      SELECT r.tenant, r.id, r.bucket, r.total, r.success, r.failed, r.timed_out, r.sla_met, r.sla_missed, r.sum_ms,
             ($11::bigint[])[(r.n - 1) * 21 + 1 : r.n * 21]
      FROM unnest($1::text[], $2::bigint[], $3::timestamptz[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[])
           WITH ORDINALITY AS r(tenant, id, bucket, total, success, failed, timed_out, sla_met, sla_missed, sum_ms, n)
      ORDER BY r.tenant, r.id, r.bucket
      ON CONFLICT (tenant, \(key), bucket_start) DO UPDATE SET
        total = m.total + EXCLUDED.total, success = m.success + EXCLUDED.success, failed = m.failed + EXCLUDED.failed,
        timed_out = m.timed_out + EXCLUDED.timed_out, sla_met = m.sla_met + EXCLUDED.sla_met,
        sla_missed = m.sla_missed + EXCLUDED.sla_missed, sum_duration_ms = m.sum_duration_ms + EXCLUDED.sum_duration_ms,
        latency_buckets = \(sumArrays)
      """
    _ = try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: self.logger).collect()
  }

  /// Ids of `keys`, creating missing series (cached: a series never changes id).
  func resolveSeries(_ keys: [SeriesKey]) async throws -> [SeriesKey: Int64] {
    // A series inserted by a concurrent, uncommitted batch is invisible to this statement's
    // snapshot; the next attempt sees it.
    for attempt in 1...3 {
      do {
        return try await self.resolveSeriesOnce(keys)
      } catch let error as MaestroError where error.code == .aborted && attempt < 3 {
        continue
      }
    }
    return try await self.resolveSeriesOnce(keys)
  }

  private func resolveSeriesOnce(_ keys: [SeriesKey]) async throws -> [SeriesKey: Int64] {
    var found: [SeriesKey: Int64] = [:]
    let missing = self.seriesIDs.ids.withLock { cache in
      keys.filter { key in
        if let id = cache[key] { found[key] = id; return false }
        return true
      }
    }
    guard !missing.isEmpty else { return found }
    let tenants = missing.map(\.tenant)
    let kinds = missing.map(\.kind.rawValue)
    let names = missing.map(\.workflowOrRoute)
    let steps = missing.map { $0.stepID.isEmpty ? nil : $0.stepID } as [String?]
    let rows = try await self.database.client.query(
      """
      WITH wanted AS (SELECT * FROM unnest(\(tenants)::text[], \(kinds)::text[], \(names)::text[], \(steps.map { $0 ?? "" })::text[]) AS w(tenant, kind, name, step)),
      inserted AS (
        INSERT INTO series (tenant, kind, workflow_or_route, step_id)
        SELECT tenant, kind, name, NULLIF(step, '') FROM wanted ORDER BY 1, 2, 3, 4
        ON CONFLICT (tenant, kind, workflow_or_route, step_id) DO NOTHING
        RETURNING id, tenant, kind, workflow_or_route, coalesce(step_id, '')
      )
      SELECT * FROM inserted
      UNION ALL
      SELECT s.id, s.tenant, s.kind, s.workflow_or_route, coalesce(s.step_id, '') FROM series s JOIN wanted w
        ON s.tenant = w.tenant AND s.kind = w.kind AND s.workflow_or_route = w.name AND coalesce(s.step_id, '') = w.step
      """,
      logger: self.logger
    )
    for try await (id, tenant, kind, name, step) in rows.decode((Int64, String, String, String, String).self) {
      guard let kind = OutcomeKindName(rawValue: kind) else { continue }
      found[SeriesKey(tenant: tenant, kind: kind, workflowOrRoute: name, stepID: step)] = id
    }
    let resolved = found
    self.seriesIDs.ids.withLock { cache in
      if cache.count > 100_000 { cache.removeAll() }
      for (key, id) in resolved { cache[key] = id }
    }
    guard missing.allSatisfy({ found[$0] != nil }) else { throw MaestroError(.aborted, "series were created concurrently; retry the batch") }
    return found
  }
}

/// Series ids by key, shared by the copies of an ``AggregateStore`` (a series never changes id).
final class SeriesCache: Sendable {
  let ids = Mutex<[SeriesKey: Int64]>([:])
}

/// Aggregate rows for one upsert, column-wise (the statement takes one array per column):
/// per row a tenant, a series or aggregate id, a bucket, 7 counters and 21 histogram buckets.
struct AggregateRows: Sendable {
  var tenants: [String] = []
  var ids: [Int64] = []
  var buckets: [Date] = []
  /// total, success, failed, timed out, SLA met, SLA missed, sum of durations (ms).
  var columns = Array(repeating: [Int64](), count: 7)
  var latency: [Int64] = []

  var isEmpty: Bool { self.ids.isEmpty }
  var count: Int { self.ids.count }

  mutating func append(tenant: String, id: Int64, bucket: Date, counts: OutcomeCounts) {
    self.tenants.append(tenant)
    self.ids.append(id)
    self.buckets.append(bucket)
    for (index, value) in [counts.total, counts.success, counts.failed, counts.timedOut, counts.slaMet, counts.slaMissed, counts.sumDurationMilliseconds].enumerated() {
      self.columns[index].append(value)
    }
    self.latency += counts.latency.counts
  }

  /// Adds row `index` of `other` as a new row, or into the last row when that has the same
  /// tenant, id and `bucket` (one upsert may not touch a row twice).
  mutating func add(_ other: AggregateRows, row index: Int, id: Int64, bucket: Date) {
    if let last = self.ids.indices.last, self.buckets[last] == bucket, self.ids[last] == id, self.tenants[last] == other.tenants[index] {
      for column in 0..<7 { self.columns[column][last] += other.columns[column][index] }
      for slot in 0..<21 { self.latency[last * 21 + slot] += other.latency[index * 21 + slot] }
      return
    }
    self.tenants.append(other.tenants[index])
    self.ids.append(id)
    self.buckets.append(bucket)
    for column in 0..<7 { self.columns[column].append(other.columns[column][index]) }
    self.latency += other.latency[(index * 21)..<(index * 21 + 21)]
  }

  /// The rows before `mark`, summed into buckets `width` seconds wide. The rows are sorted by
  /// (tenant, id, minute), so the minutes of one hour (day) are adjacent.
  func merged(below mark: Date, width: TimeInterval) -> AggregateRows {
    var result = AggregateRows()
    for index in self.buckets.indices where self.buckets[index] < mark {
      let bucket = Date(timeIntervalSince1970: (self.buckets[index].timeIntervalSince1970 / width).rounded(.down) * width)
      result.add(self, row: index, id: self.ids[index], bucket: bucket)
    }
    return result
  }
}
