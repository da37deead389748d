import Foundation
import Logging
import MaestroCore
import MaestroKit
import MaestroProtos
import PostgresNIO

/// `scheduler.schedules`: every query is scoped by tenant.
struct ScheduleStore: Sendable {
  let database: Database
  let logger: Logger

  /// The LISTEN/NOTIFY channel API changes are announced on (a schedule may now be due sooner).
  static let changedChannel = "scheduler_schedules_changed"

  func insert(_ record: ScheduleRecord, ifAbsent: Bool = false, on connection: PostgresConnection) async throws -> Bool {
    let rows = try await connection.query(
      """
      INSERT INTO schedules (id, tenant, name, display_name, description, spec, time_zone, target, overlap_policy,
        catchup_window, pause_on_failure_after, paused, notes, paused_at, paused_by, next_fire_at, next_nominal_at,
        created_by, labels)
      VALUES (\(record.uuid), \(record.tenant), \(record.id), \(record.displayName), \(record.description), \(record.specJSON)::jsonb,
        \(record.spec.timeZone), \(record.targetJSON)::jsonb, \(record.overlap.rawValue),
        make_interval(secs => \(Double(record.catchupWindowMilliseconds) / 1000)), \(record.pauseAfterFailures > 0 ? Int32(record.pauseAfterFailures) : nil),
        \(record.paused), \(record.notes), \(record.paused ? Date() : nil), \(record.paused ? record.createdBy : nil),
        \(record.nextFireAt), \(record.nextNominalAt), \(record.createdBy), \(record.labelsJSON)::jsonb)
      ON CONFLICT (tenant, name) DO NOTHING
      RETURNING id
      """,
      logger: self.logger
    ).collect()
    if rows.isEmpty, !ifAbsent { throw MaestroError(.alreadyExists, "schedule '\(record.id)' already exists") }
    return !rows.isEmpty
  }

  func get(tenant: String, id: String, forUpdate: Bool = false, on connection: PostgresConnection) async throws -> ScheduleRecord? {
    let lock = forUpdate ? "FOR UPDATE" : ""
    let rows = try await connection.query(
      "SELECT \(unescaped: ScheduleRecord.columns) FROM schedules WHERE tenant = \(tenant) AND name = \(id) \(unescaped: lock)",
      logger: self.logger
    ).collect()
    return try rows.first.map(ScheduleRecord.init(row:))
  }

  func require(tenant: String, id: String, field: String = "schedule_id", forUpdate: Bool = false, on connection: PostgresConnection) async throws -> ScheduleRecord {
    guard !id.isEmpty else { throw MaestroError.invalidArgument(field: field, "is required") }
    guard let record = try await self.get(tenant: tenant, id: id, forUpdate: forUpdate, on: connection) else {
      throw MaestroError.notFound("schedule '\(id.prefix(128))' not found")
    }
    return record
  }

  func list(tenant: String, after: String, limit: Int, workflowName: String, labels: [String: String], on connection: PostgresConnection) async throws -> [ScheduleRecord] {
    let labelsJSON = String(decoding: try JSONSerialization.data(withJSONObject: labels), as: UTF8.self)
    let rows = try await connection.query(
      """
      SELECT \(unescaped: ScheduleRecord.columns) FROM schedules
      WHERE tenant = \(tenant) AND name > \(after) AND labels @> \(labelsJSON)::jsonb
        AND (\(workflowName) = '' OR target->>'workflowName' = \(workflowName) OR target->>'templateName' = \(workflowName))
      ORDER BY name LIMIT \(limit)
      """,
      logger: self.logger
    ).collect()
    return try rows.map(ScheduleRecord.init(row:))
  }

  /// Writes the configuration and state columns of `record` (by uuid and tenant).
  /// `pausedBy` names who paused it when this update pauses it (kept if it was paused already).
  func update(_ record: ScheduleRecord, pausedBy: String = "api", on connection: PostgresConnection) async throws {
    _ = try await connection.query(
      """
      UPDATE schedules SET display_name = \(record.displayName), description = \(record.description), spec = \(record.specJSON)::jsonb,
        time_zone = \(record.spec.timeZone), target = \(record.targetJSON)::jsonb, overlap_policy = \(record.overlap.rawValue),
        catchup_window = make_interval(secs => \(Double(record.catchupWindowMilliseconds) / 1000)),
        pause_on_failure_after = \(record.pauseAfterFailures > 0 ? Int32(record.pauseAfterFailures) : nil),
        paused = \(record.paused), notes = \(record.notes), paused_by_failures = \(record.pausedByFailures),
        paused_at = CASE WHEN \(record.paused) THEN coalesce(paused_at, now()) END,
        paused_by = CASE WHEN \(record.paused) THEN coalesce(paused_by, \(record.pausedByFailures ? "system:pause_on_failure" : pausedBy)) END,
        next_fire_at = \(record.nextFireAt), next_nominal_at = \(record.nextNominalAt),
        consecutive_failures = \(Int32(record.consecutiveFailures)), labels = \(record.labelsJSON)::jsonb,
        version = version + 1, updated_at = now()
      WHERE tenant = \(record.tenant) AND id = \(record.uuid)
      """,
      logger: self.logger
    ).collect()
  }

  func delete(tenant: String, id: String) async throws -> Bool {
    let rows = try await self.database.client.query(
      "DELETE FROM schedules WHERE tenant = \(tenant) AND name = \(id) RETURNING id", logger: self.logger
    ).collect()
    return !rows.isEmpty
  }

  /// Wakes every replica's firing loop (after a commit that may make a schedule due sooner).
  func notifyChanged() async {
    do {
      _ = try await self.database.client.query("SELECT pg_notify(\(Self.changedChannel), '')", logger: self.logger).collect()
    } catch {
      self.logger.warning("NOTIFY failed; replicas pick the change up at their next wakeup", metadata: ["error": "\(error)"])
    }
  }

  // MARK: State shown with a schedule

  struct Extras: Sendable {
    var recentActions: [Maestro_Scheduler_V1_ScheduleAction] = []
    var runningRunIDs: [String] = []
    var buffered: Int = 0
  }

  func extras(for record: ScheduleRecord, on connection: PostgresConnection) async throws -> Extras {
    var extras = Extras()
    let fires = try await connection.query(
      """
      SELECT fire_time, coalesce(started_at, updated_at), trigger, status, coalesce(run_id::text, ''), run_status, coalesce(error, '')
      FROM schedule_fires WHERE tenant = \(record.tenant) AND schedule_id = \(record.uuid)
      ORDER BY fire_time DESC LIMIT 20
      """,
      logger: self.logger
    )
    for try await (fireTime, actedAt, trigger, status, runID, runStatus, error) in fires.decode((Date, Date, String, String, String, String, String).self) {
      extras.recentActions.append(FireRecord.action(fireTime: fireTime, actedAt: actedAt, trigger: trigger, status: status, runID: runID, runStatus: runStatus, message: error))
    }
    let count = try await connection.query(
      "SELECT count(*) FROM buffered_fires WHERE tenant = \(record.tenant) AND schedule_id = \(record.uuid)", logger: self.logger)
    for try await value in count.decode(Int64.self) { extras.buffered = Int(value) }
    // The next 20 waiting fires are shown as BUFFERED actions (a backfill may buffer thousands).
    let buffered = try await connection.query(
      "SELECT fire_time, buffered_at, trigger FROM buffered_fires WHERE tenant = \(record.tenant) AND schedule_id = \(record.uuid) ORDER BY fire_time LIMIT 20",
      logger: self.logger
    )
    for try await (fireTime, bufferedAt, trigger) in buffered.decode((Date, Date, String).self) {
      extras.recentActions.append(FireRecord.action(fireTime: fireTime, actedAt: bufferedAt, trigger: trigger, status: "buffered", runID: "", runStatus: "", message: ""))
    }
    extras.recentActions.sort { $0.fireTime.date > $1.fireTime.date }
    extras.recentActions = Array(extras.recentActions.prefix(20))
    let running = try await connection.query(
      """
      SELECT run_id::text FROM schedule_fires
      WHERE tenant = \(record.tenant) AND schedule_id = \(record.uuid) AND status IN ('starting', 'running') AND run_id IS NOT NULL
      ORDER BY fire_time LIMIT 100
      """,
      logger: self.logger
    )
    for try await runID in running.decode(String.self) { extras.runningRunIDs.append(runID) }
    return extras
  }
}

extension ScheduleRecord {
  func proto(_ extras: ScheduleStore.Extras = .init()) -> Maestro_Scheduler_V1_Schedule {
    .with {
      $0.id = self.id
      $0.tenant = self.tenant
      $0.name = self.displayName
      $0.description_p = self.description
      $0.spec = self.spec
      $0.target = self.target
      $0.overlapPolicy = self.overlap.proto
      $0.catchupWindow = .init(seconds: self.catchupWindowMilliseconds / 1000, nanos: Int32(self.catchupWindowMilliseconds % 1000) * 1_000_000)
      $0.pauseAfterFailures = Int32(self.pauseAfterFailures)
      $0.labels = self.labels
      $0.revision = self.revision
      $0.state = .with { state in
        state.paused = self.paused
        state.notes = self.notes
        state.pausedByFailures = self.pausedByFailures
        if let next = self.nextFireAt, !self.paused { state.nextFireTime = .init(date: next) }
        if let last = self.lastFireAt { state.lastFireTime = .init(date: last) }
        state.recentActions = extras.recentActions
        state.runningRunIds = extras.runningRunIDs
        state.bufferedFires = Int32(extras.buffered)
        state.consecutiveFailures = Int32(self.consecutiveFailures)
        state.totalFires = self.totalFires
        state.missedFires = self.missedFires
      }
      $0.meta = .with { meta in
        meta.tenant = self.tenant
        meta.createdAt = .init(date: self.createdAt)
        meta.updatedAt = .init(date: self.updatedAt)
        meta.createdBy = self.createdBy
      }
    }
  }
}
