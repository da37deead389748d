import Foundation
import MaestroKit
import PostgresNIO

extension AggregateStore {
  /// What one ``rollup(now:grace:)`` summed.
  struct RollupResult: Sendable, Hashable {
    var hours: Int
    var days: Int
  }

  /// Rolls complete hours of minutes up into `series_hour`, then complete days of hours into
  /// `series_day`, each in its own transaction.
  @discardableResult
  func rollup(now: Date, grace: Duration = .seconds(120)) async throws -> RollupResult {
    let hours = try await self.rollupHours(now: now, grace: grace)
    let days = try await self.rollupDays()
    return RollupResult(hours: hours, days: days)
  }

  /// Sums the minutes of every complete hour not yet rolled up into `series_hour` and advances
  /// `rollup_progress`, in one transaction (exclusive with ingest's late-hour path). An hour is
  /// complete `grace` after it ends. Returns the number of hours rolled up.
  @discardableResult
  func rollupHours(now: Date, grace: Duration = .seconds(120)) async throws -> Int {
    let target = Self.floorHour(now.addingTimeInterval(-grace.seconds))
    return try await self.database.withTransaction { connection in
      _ = try await connection.query(
        "INSERT INTO rollup_progress (name, completed_upto) VALUES (\(Self.rollupName), to_timestamp(0)) ON CONFLICT DO NOTHING",
        logger: self.logger
      ).collect()
      let progress = try await connection.query(
        "SELECT completed_upto FROM rollup_progress WHERE name = \(Self.rollupName) FOR UPDATE", logger: self.logger
      ).collect()
      var from = try progress.first!.decode(Date.self)
      if from.timeIntervalSince1970 == 0 {
        // First run: start at the oldest minute.
        let oldest = try await connection.query("SELECT min(bucket_start) FROM series_minute", logger: self.logger).collect()
        guard let first = try oldest.first?.decode(Date?.self) else {
          _ = try await connection.query("UPDATE rollup_progress SET completed_upto = \(target), updated_at = now() WHERE name = \(Self.rollupName)", logger: self.logger).collect()
          return 0
        }
        from = Self.floorHour(first)
      }
      guard from < target else { return 0 }
      let buckets = (1...21).map { "sum(latency_buckets[\($0)])::bigint" }.joined(separator: ", ")
      let sumArrays = "ARRAY[" + (1...21).map { "h.latency_buckets[\($0)] + EXCLUDED.latency_buckets[\($0)]" }.joined(separator: ", ") + "]"
      // The series and the filter aggregates (see AggregateStore+Filters) alike.
      for source in [Source.series, .filter] {
        let key = source.keyColumn
        _ = try await connection.query(
          PostgresQuery(
            unsafeSQL: """
              INSERT INTO \(Piece.table(.hour, source)) AS h (tenant, \(key), bucket_start, total, success, failed, timed_out, sla_met, sla_missed, sum_duration_ms, latency_buckets)
              SELECT tenant, \(key), to_timestamp(floor(extract(epoch FROM bucket_start) / 3600) * 3600),
                     sum(total), sum(success), sum(failed), sum(timed_out), sum(sla_met), sum(sla_missed), sum(sum_duration_ms), ARRAY[\(buckets)]
              FROM \(Piece.table(.minute, source)) WHERE bucket_start >= $1 AND bucket_start < $2
              GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
              ON CONFLICT (tenant, \(key), bucket_start) DO UPDATE SET
                total = h.total + EXCLUDED.total, success = h.success + EXCLUDED.success, failed = h.failed + EXCLUDED.failed,
                timed_out = h.timed_out + EXCLUDED.timed_out, sla_met = h.sla_met + EXCLUDED.sla_met, sla_missed = h.sla_missed + EXCLUDED.sla_missed,
                sum_duration_ms = h.sum_duration_ms + EXCLUDED.sum_duration_ms, latency_buckets = \(sumArrays)
              """,
            binds: { var b = PostgresBindings(); b.append(from); b.append(target); return b }()
          ),
          logger: self.logger
        ).collect()
      }
      _ = try await connection.query(
        "UPDATE rollup_progress SET completed_upto = \(target), updated_at = now() WHERE name = \(Self.rollupName)", logger: self.logger
      ).collect()
      return Int(target.timeIntervalSince(from) / 3600)
    }
  }

  /// Sums the hours of every complete day not yet rolled up into `series_day` and advances the
  /// `hour_to_day` mark, in one transaction (exclusive with ingest's late-day path). A day is
  /// complete once the minute → hour rollup has passed its end. Returns the number of days
  /// rolled up. A restart neither skips nor doubles a day: the sums and the mark commit together.
  @discardableResult
  func rollupDays() async throws -> Int {
    try await self.database.withTransaction { connection in
      _ = try await connection.query(
        "INSERT INTO rollup_progress (name, completed_upto) VALUES (\(Self.dayRollupName), to_timestamp(0)) ON CONFLICT DO NOTHING",
        logger: self.logger
      ).collect()
      let progress = try await connection.query(
        "SELECT completed_upto FROM rollup_progress WHERE name = \(Self.dayRollupName) FOR UPDATE", logger: self.logger
      ).collect()
      var from = try progress.first!.decode(Date.self)
      // Every hour before the hour mark is committed in series_hour (the mark commits with them).
      let hourMark = try await connection.query(
        "SELECT completed_upto FROM rollup_progress WHERE name = \(Self.rollupName)", logger: self.logger
      ).collect()
      let target = Self.floorDay(try hourMark.first?.decode(Date.self) ?? Date(timeIntervalSince1970: 0))
      if from.timeIntervalSince1970 == 0 {
        // First run: start at the oldest hour.
        let oldest = try await connection.query("SELECT min(bucket_start) FROM series_hour", logger: self.logger).collect()
        guard let first = try oldest.first?.decode(Date?.self) else {
          _ = try await connection.query(
            "UPDATE rollup_progress SET completed_upto = \(target), updated_at = now() WHERE name = \(Self.dayRollupName)", logger: self.logger
          ).collect()
          return 0
        }
        from = Self.floorDay(first)
      }
      guard from < target else { return 0 }
      let buckets = (1...21).map { "sum(latency_buckets[\($0)])::bigint" }.joined(separator: ", ")
      let sumArrays = "ARRAY[" + (1...21).map { "d.latency_buckets[\($0)] + EXCLUDED.latency_buckets[\($0)]" }.joined(separator: ", ") + "]"
      // The series and the filter aggregates (see AggregateStore+Filters) alike.
      for source in [Source.series, .filter] {
        let key = source.keyColumn
        _ = try await connection.query(
          PostgresQuery(
            unsafeSQL: """
              INSERT INTO \(Piece.table(.day, source)) AS d (tenant, \(key), bucket_start, total, success, failed, timed_out, sla_met, sla_missed, sum_duration_ms, latency_buckets)
              SELECT tenant, \(key), to_timestamp(floor(extract(epoch FROM bucket_start) / 86400) * 86400),
                     sum(total), sum(success), sum(failed), sum(timed_out), sum(sla_met), sum(sla_missed), sum(sum_duration_ms), ARRAY[\(buckets)]
              FROM \(Piece.table(.hour, source)) WHERE bucket_start >= $1 AND bucket_start < $2
              GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
              ON CONFLICT (tenant, \(key), bucket_start) DO UPDATE SET
                total = d.total + EXCLUDED.total, success = d.success + EXCLUDED.success, failed = d.failed + EXCLUDED.failed,
                timed_out = d.timed_out + EXCLUDED.timed_out, sla_met = d.sla_met + EXCLUDED.sla_met, sla_missed = d.sla_missed + EXCLUDED.sla_missed,
                sum_duration_ms = d.sum_duration_ms + EXCLUDED.sum_duration_ms, latency_buckets = \(sumArrays)
              """,
            binds: { var b = PostgresBindings(); b.append(from); b.append(target); return b }()
          ),
          logger: self.logger
        ).collect()
      }
      _ = try await connection.query(
        "UPDATE rollup_progress SET completed_upto = \(target), updated_at = now() WHERE name = \(Self.dayRollupName)", logger: self.logger
      ).collect()
      return Int(target.timeIntervalSince(from) / 86_400)
    }
  }

  static func binds(_ date: Date) -> PostgresBindings {
    var bindings = PostgresBindings()
    bindings.append(date)
    return bindings
  }

  /// Deletes minutes, hours, days and batch ids past their retention, in slices so no statement
  /// holds locks for long. Returns the rows deleted.
  @discardableResult
  func applyRetention(now: Date, slice: Int = 20_000) async throws -> Int {
    var deleted = 0
    let minuteCutoff = now.addingTimeInterval(-self.minuteRetention.seconds)
    let hourCutoff = now.addingTimeInterval(-self.hourRetention.seconds)
    let dayCutoff = now.addingTimeInterval(-self.dayRetention.seconds)
    let batchCutoff = now.addingTimeInterval(-86_400)
    // Never delete minutes the hour rollup has not summed yet, nor hours the day rollup has not.
    // Nor minutes of the filter mark's day, which a new filter aggregate starts from.
    let marks = try await self.rollupMarks()
    let filterMark = try await self.database.client.query(
      "SELECT completed_upto FROM rollup_progress WHERE name = \(Self.filterMarkName)", logger: self.logger
    ).collect().first?.decode(Date.self)
    // (Before the first materialisation the mark is the epoch: the first one starts at today.)
    var minuteLimit = min(minuteCutoff, marks.hours)
    if let filterMark, filterMark.timeIntervalSince1970 > 0 { minuteLimit = min(minuteLimit, Self.floorDay(filterMark)) }
    var statements: [PostgresQuery] = []
    // The filter aggregates' levels are cut exactly like the series' (they mirror them).
    for source in [Source.series, .filter] {
      let (minutes, hours, days) = (Piece.table(.minute, source), Piece.table(.hour, source), Piece.table(.day, source))
      statements += [
        PostgresQuery(unsafeSQL: "DELETE FROM \(minutes) WHERE ctid IN (SELECT ctid FROM \(minutes) WHERE bucket_start < $1 LIMIT \(slice)) RETURNING 1", binds: Self.binds(minuteLimit)),
        PostgresQuery(unsafeSQL: "DELETE FROM \(hours) WHERE ctid IN (SELECT ctid FROM \(hours) WHERE bucket_start < $1 LIMIT \(slice)) RETURNING 1", binds: Self.binds(min(hourCutoff, marks.days))),
        PostgresQuery(unsafeSQL: "DELETE FROM \(days) WHERE ctid IN (SELECT ctid FROM \(days) WHERE bucket_start < $1 LIMIT \(slice)) RETURNING 1", binds: Self.binds(dayCutoff)),
      ]
    }
    statements += [
      "DELETE FROM ingest_batches WHERE ctid IN (SELECT ctid FROM ingest_batches WHERE received_at < \(batchCutoff) LIMIT \(slice)) RETURNING 1",
      "DELETE FROM notification_outbox WHERE ctid IN (SELECT ctid FROM notification_outbox WHERE delivered_at < \(hourCutoff) LIMIT \(slice)) RETURNING 1",
    ]
    for statement in statements {
      while true {
        let affected = try await self.database.client.query(statement, logger: self.logger).collect().count
        deleted += affected
        if affected < slice { break }
      }
    }
    return deleted
  }
}
