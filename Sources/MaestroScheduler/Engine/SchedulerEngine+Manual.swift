import Foundation
import MaestroCore
import MaestroKit
import MaestroProtos
import MaestroSchedulerModel
import PostgresNIO

extension SchedulerEngine {
  /// Most fires one BackfillSchedule may cover.
  static let maximumBackfillFires = 10_000

  /// Fires `record` once now under `policy`; returns the action (with the run id when started).
  func trigger(tenant: String, scheduleID: String, policy override: OverlapPolicy?) async throws -> Maestro_Scheduler_V1_ScheduleAction {
    let now = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 * 1000).rounded(.down) / 1000)
    let (record, outcome) = try await self.database.withTransaction { connection in
      let record = try await self.store.require(tenant: tenant, id: scheduleID, forUpdate: true, on: connection)
      let outcome = try await self.act(on: record, fires: [Fire(nominal: now, due: now, trigger: "trigger_now")], policy: override ?? record.overlap, on: connection)
      return (record, outcome)
    }
    await self.execute(outcome)
    let rows = try await self.database.client.query(
      """
      SELECT fire_time, coalesce(started_at, updated_at), trigger, status, coalesce(run_id::text, ''), run_status, coalesce(error, '')
      FROM schedule_fires WHERE tenant = \(tenant) AND schedule_id = \(record.uuid) AND fire_time = \(now)
      """,
      logger: self.logger
    )
    for try await (fireTime, actedAt, trigger, status, runID, runStatus, error) in rows.decode((Date, Date, String, String, String, String, String).self) {
      return FireRecord.action(fireTime: fireTime, actedAt: actedAt, trigger: trigger, status: status, runID: runID, runStatus: runStatus, message: error)
    }
    return FireRecord.action(fireTime: now, actedAt: Date(), trigger: "trigger_now", status: outcome.results.first.flatMap { $0 } ?? "skipped", runID: "", runStatus: "", message: "")
  }

  /// Fires every nominal time of the schedule in `[start, end)`, oldest first, under `policy`.
  func backfill(tenant: String, scheduleID: String, start: Date, end: Date, policy: OverlapPolicy) async throws -> Int {
    let (count, outcome) = try await self.database.withTransaction { connection -> (Int, Outcome) in
      let record = try await self.store.require(tenant: tenant, id: scheduleID, forUpdate: true, on: connection)
      let spec = try record.fireSpec()
      var fires: [Fire] = []
      var cursor = Int64(start.timeIntervalSince1970.rounded(.up)) - 1
      let endSeconds = end.timeIntervalSince1970
      while let next = spec.nextFire(after: cursor), Double(next) < endSeconds {
        guard fires.count < Self.maximumBackfillFires else {
          throw MaestroError.invalidArgument(field: "time_range", "covers more than \(Self.maximumBackfillFires) fires; split it")
        }
        let nominal = Date(timeIntervalSince1970: Double(next))
        fires.append(Fire(nominal: nominal, due: Date(), trigger: "backfill"))
        cursor = next
      }
      return (fires.count, try await self.act(on: record, fires: fires, policy: policy, on: connection))
    }
    await self.execute(outcome)
    return count
  }

  /// Resumes the schedule from now (no catch-up of the paused time) and starts buffered fires.
  func resume(tenant: String, scheduleID: String, note: String) async throws -> ScheduleRecord {
    let (record, outcome) = try await self.database.withTransaction { connection in
      var record = try await self.store.require(tenant: tenant, id: scheduleID, forUpdate: true, on: connection)
      record.paused = false
      record.pausedByFailures = false
      record.notes = note
      record.consecutiveFailures = 0
      try record.scheduleNext(after: Date())
      try await self.store.update(record, on: connection)
      return (record, try await self.pump(record, on: connection))
    }
    await self.store.notifyChanged()
    await self.execute(outcome)
    return record
  }
}
