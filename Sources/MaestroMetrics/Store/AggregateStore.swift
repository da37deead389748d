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

  // MARK: Ingest

  /// Records `batch` once per (caller, batch id) in one transaction. Returns false when the
  /// batch id was seen before (nothing is recorded then).
  func record(_ batch: IngestBatch, batchID: String, caller: Principal) async throws -> Bool {
    let keys = batch.minutes.keys.sorted()
    let ids = try await self.resolveSeries(keys)
    var tenants: [String] = []
    var series: [Int64] = []
    var buckets: [Date] = []
    var columns = Array(repeating: [Int64](), count: 8)
    var latency: [Int64] = []
    for key in keys {
      let byMinute = batch.minutes[key]!
      for minute in byMinute.keys.sorted() {
        let counts = byMinute[minute]!
        tenants.append(key.tenant)
        series.append(ids[key]!)
        buckets.append(Date(timeIntervalSince1970: TimeInterval(minute)))
        for (index, value) in [counts.total, counts.success, counts.failed, counts.timedOut, counts.slaMet, counts.slaMissed, counts.sumDurationMilliseconds, 0].enumerated() {
          columns[index].append(value)
        }
        latency += counts.latency.counts
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
      guard !series.isEmpty else { return true }
      // Shared with other ingesters, exclusive with each rollup: a minute that lands in an hour
      // (or day) a rollup has already summed is added to that hour (and day) as well, never lost
      // between the levels nor counted twice. Both rows are locked in name order.
      let progress = try await connection.query(
        """
        SELECT name, completed_upto FROM rollup_progress WHERE name IN (\(Self.rollupName), \(Self.dayRollupName))
        ORDER BY name FOR SHARE
        """,
        logger: self.logger
      ).collect()
      var marks: [String: Date] = [:]
      for row in progress {
        let (name, mark) = try row.decode((String, Date).self)
        marks[name] = mark
      }
      try await self.upsert(table: "series_minute", tenants: tenants, series: series, buckets: buckets, columns: columns, latency: latency, on: connection)
      for (table, mark, width) in [("series_hour", marks[Self.rollupName], 3600.0), ("series_day", marks[Self.dayRollupName], 86_400.0)] {
        guard let mark, buckets.contains(where: { $0 < mark }) else { continue }
        var late = (tenants: [String](), series: [Int64](), buckets: [Date](), columns: Array(repeating: [Int64](), count: 8), latency: [Int64]())
        // Rows are sorted by (tenant, series, minute), so minutes of the same hour (day) are
        // adjacent: they are merged into one row, as one upsert may not touch a row twice.
        for index in buckets.indices where buckets[index] < mark {
          let bucket = Date(timeIntervalSince1970: (buckets[index].timeIntervalSince1970 / width).rounded(.down) * width)
          if let last = late.buckets.indices.last, late.buckets[last] == bucket, late.series[last] == series[index], late.tenants[last] == tenants[index] {
            for column in 0..<8 { late.columns[column][last] += columns[column][index] }
            for slot in 0..<21 { late.latency[last * 21 + slot] += latency[index * 21 + slot] }
            continue
          }
          late.tenants.append(tenants[index])
          late.series.append(series[index])
          late.buckets.append(bucket)
          for column in 0..<8 { late.columns[column].append(columns[column][index]) }
          late.latency += latency[(index * 21)..<(index * 21 + 21)]
        }
        try await self.upsert(table: table, tenants: late.tenants, series: late.series, buckets: late.buckets, columns: late.columns, latency: late.latency, on: connection)
      }
      return true
    }
  }

  private func upsert(table: String, tenants: [String], series: [Int64], buckets: [Date], columns: [[Int64]], latency: [Int64], on connection: PostgresConnection) async throws {
    var bindings = PostgresBindings()
    bindings.append(tenants)
    bindings.append(series)
    bindings.append(buckets)
    for column in columns.prefix(7) { bindings.append(column) }
    bindings.append(latency)
    let sumArrays = "ARRAY[" + (1...21).map { "m.latency_buckets[\($0)] + EXCLUDED.latency_buckets[\($0)]" }.joined(separator: ", ") + "]"
    // Rows are sorted by (tenant, series, bucket), so concurrent batches lock rows in the same order.
    let sql = """
      INSERT INTO \(table) AS m (tenant, series_id, bucket_start, total, success, failed, timed_out, sla_met, sla_missed, sum_duration_ms, latency_buckets)
      SELECT r.tenant, r.series_id, r.bucket, r.total, r.success, r.failed, r.timed_out, r.sla_met, r.sla_missed, r.sum_ms,
             ($11::bigint[])[(r.n - 1) * 21 + 1 : r.n * 21]
      FROM unnest($1::text[], $2::bigint[], $3::timestamptz[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[])
           WITH ORDINALITY AS r(tenant, series_id, bucket, total, success, failed, timed_out, sla_met, sla_missed, sum_ms, n)
      ORDER BY r.tenant, r.series_id, r.bucket
      ON CONFLICT (tenant, series_id, bucket_start) DO UPDATE SET
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
