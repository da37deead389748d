import Foundation
import MaestroKit
import PostgresNIO

extension SchedulerEngine {
  /// A live fire that ended: its run finished, was not found, or could not be started.
  struct FireEnd: Sendable {
    var fireRowID: Int64
    var tenant: String
    var scheduleUUID: UUID
    var status: String
    var runStatus: String
    var error: String
  }

  /// Records one live fire's end (see ``finish(_:)``).
  func finish(fireRowID: Int64, tenant: String, scheduleUUID: UUID, status: String, runStatus: String, error: String) async throws -> Outcome {
    try await self.finish([FireEnd(fireRowID: fireRowID, tenant: tenant, scheduleUUID: scheduleUUID, status: status, runStatus: runStatus, error: error)])
  }

  /// Records live fires' ends in one transaction, set-based: counts consecutive failures (pausing
  /// a schedule when `pause_after_failures` is reached) and pumps the next buffered fire of
  /// schedules that have one. Ends already recorded (by another replica) are ignored.
  func finish(_ ends: [FireEnd]) async throws -> Outcome {
    guard !ends.isEmpty else { return Outcome() }
    return try await self.database.withTransaction { connection in
      // The schedule rows first (in id order), then their fires: the order every writer locks them in.
      let keys = Set(ends.map { ScheduleKey(tenant: $0.tenant, uuid: $0.scheduleUUID) }).sorted { $0.uuid.uuidString < $1.uuid.uuidString }
      let rows = try await connection.query(
        """
        SELECT \(unescaped: ScheduleRecord.columns) FROM schedules
        WHERE (tenant, id) IN (SELECT * FROM unnest(\(keys.map(\.tenant))::text[], \(keys.map(\.uuid))::uuid[]))
        ORDER BY id FOR UPDATE
        """,
        logger: self.logger
      ).collect()
      var records: [UUID: ScheduleRecord] = [:]
      for row in rows {
        let record = try ScheduleRecord(row: row)
        records[record.uuid] = record
      }
      let updated = try await connection.query(
        """
        UPDATE schedule_fires f SET status = e.status, run_status = e.run_status, error = nullif(e.error, ''), finished_at = now(),
          next_check_at = NULL, updated_at = now()
        FROM unnest(\(ends.map(\.fireRowID))::bigint[], \(ends.map(\.tenant))::text[], \(ends.map(\.status))::text[],
                    \(ends.map(\.runStatus))::text[], \(ends.map(\.error))::text[]) AS e(id, tenant, status, run_status, error)
        WHERE f.id = e.id AND f.tenant = e.tenant AND f.status IN ('starting', 'running')
        RETURNING f.id, f.fire_time
        """,
        logger: self.logger
      )
      var recorded: [Int64: Date] = [:]
      for try await (id, fireTime) in updated.decode((Int64, Date).self) { recorded[id] = fireTime }
      guard !recorded.isEmpty else { return Outcome() }

      // Consecutive failures, per schedule in fire-time order; only changed schedules are written.
      var changed: [UUID: ScheduleRecord] = [:]
      for end in ends.sorted(by: { (recorded[$0.fireRowID] ?? .distantPast) < (recorded[$1.fireRowID] ?? .distantPast) }) {
        guard recorded[end.fireRowID] != nil, var record = changed[end.scheduleUUID] ?? records[end.scheduleUUID], let failed = FireRecord.failed(end.status) else { continue }
        let before = (record.consecutiveFailures, record.paused)
        if failed { self.metrics.failure(status: end.status) }
        record.consecutiveFailures = failed ? record.consecutiveFailures + 1 : 0
        if failed, record.pauseAfterFailures > 0, record.consecutiveFailures >= record.pauseAfterFailures, !record.paused {
          record.paused = true
          record.pausedByFailures = true
          record.notes = "paused after \(record.consecutiveFailures) consecutive failures (last: \(end.status)\(end.error.isEmpty ? "" : ": \(end.error.prefix(200))"))"
          self.metrics.pausedByFailures()
          self.logger.notice("schedule paused by failures", metadata: ["schedule": "\(record.id)", "tenant": "\(record.tenant)"])
        }
        if before != (record.consecutiveFailures, record.paused) || changed[end.scheduleUUID] != nil {
          changed[end.scheduleUUID] = record
        }
        records[end.scheduleUUID] = record
      }
      if !changed.isEmpty {
        let writes = Array(changed.values)
        _ = try await connection.query(
          """
          UPDATE schedules s SET consecutive_failures = t.failures, paused = t.paused, paused_by_failures = t.by_failures, notes = t.notes,
            paused_at = CASE WHEN t.paused THEN coalesce(s.paused_at, now()) END,
            paused_by = CASE WHEN t.paused THEN coalesce(s.paused_by, 'system:pause_on_failure') END
          FROM unnest(\(writes.map(\.tenant))::text[], \(writes.map(\.uuid))::uuid[], \(writes.map { Int32($0.consecutiveFailures) })::int4[],
                      \(writes.map(\.paused))::bool[], \(writes.map(\.pausedByFailures))::bool[], \(writes.map(\.notes))::text[])
            AS t(tenant, id, failures, paused, by_failures, notes)
          WHERE s.tenant = t.tenant AND s.id = t.id
          """,
          logger: self.logger
        ).collect()
      }

      // Buffered fires wait for the schedule's live fire to end: pump the schedules that have some.
      let ended = Set(ends.filter { recorded[$0.fireRowID] != nil }.map { ScheduleKey(tenant: $0.tenant, uuid: $0.scheduleUUID) })
      let waiting = try await connection.query(
        """
        SELECT DISTINCT b.schedule_id FROM buffered_fires b
        WHERE (b.tenant, b.schedule_id) IN (SELECT * FROM unnest(\(ended.map(\.tenant))::text[], \(ended.map(\.uuid))::uuid[]))
        """,
        logger: self.logger
      )
      var outcome = Outcome()
      var pumped: [UUID] = []
      for try await uuid in waiting.decode(UUID.self) { pumped.append(uuid) }
      for uuid in pumped {
        guard let record = records[uuid] else { continue }
        outcome.merge(try await self.pump(record, on: connection))
      }
      return outcome
    }
  }
}

/// A schedule's row key, tenant-scoped.
struct ScheduleKey: Hashable, Sendable {
  var tenant: String
  var uuid: UUID
}
