import Foundation
import MaestroKit
import MaestroSchedulerModel
import PostgresNIO

extension SchedulerEngine {
  /// Time until the earliest due schedule by the database clock (one index tuple of the
  /// partial due index); nil when nothing is scheduled.
  func untilNextDue() async throws -> Duration? {
    let rows = try await self.database.client.query(
      """
      SELECT (extract(epoch FROM (min(next_fire_at) - clock_timestamp())) * 1000)::bigint
      FROM schedules WHERE NOT paused AND next_fire_at IS NOT NULL
      """,
      logger: self.logger
    )
    for try await milliseconds in rows.decode(Int64?.self) {
      return milliseconds.map { .milliseconds(max(0, $0)) }
    }
    return nil
  }

  /// Claims up to `batchSize` due schedules, plans and records their fires, advances their next
  /// fire time, commits, then starts the runs and waits for them. Returns how many schedules it
  /// claimed. (The loop uses ``claim()`` and ``submit(_:into:)`` to overlap the two.)
  @discardableResult
  func tick() async throws -> Int {
    let (claimed, outcome) = try await self.claim()
    await self.execute(outcome)
    return claimed
  }

  /// Claims up to `batchSize` due schedules and, in the same transaction, records what to do
  /// about each due fire and advances the schedules' next fire times. Returns how many
  /// schedules it claimed and the runs to start (and cancel) after the commit.
  ///
  /// The common case, one due fire that starts a run or is skipped, is written set-based: the
  /// whole batch takes five statements (claim, occupancy, fires, skipped/missed fires, schedules)
  /// whatever its size. Catch-up bursts and buffer/cancel decisions take the per-schedule path
  /// (``act(on:fires:policy:occupancy:on:)``), whose decisions depend on each insert's result.
  func claim() async throws -> (claimed: Int, outcome: Outcome) {
    let (claimed, outcome, missed) = try await self.database.withTransaction { connection -> (Int, Outcome, Int) in
      let rows = try await connection.query(
        """
        SELECT \(unescaped: ScheduleRecord.columns) FROM schedules
        WHERE NOT paused AND next_fire_at IS NOT NULL AND next_fire_at <= now()
        ORDER BY next_fire_at LIMIT \(self.configuration.batchSize)
        FOR UPDATE SKIP LOCKED
        """,
        logger: self.logger
      ).collect()
      guard !rows.isEmpty else { return (0, Outcome(), 0) }
      let records = try rows.map(ScheduleRecord.init(row:))
      let occupancy = try await self.occupancy(of: records.filter { $0.overlap != .allowAll }, on: connection)

      var batch = TickBatch()
      var outcome = Outcome()
      var missedTotal = 0
      for var record in records {
        let spec: FireSpec
        do {
          spec = try record.fireSpec()
        } catch {
          // Cannot happen for rows written by the API; never let one row stop the loop.
          self.logger.error("stored spec does not compile; schedule paused", metadata: ["schedule": "\(record.id)", "error": "\(error)"])
          record.paused = true
          record.notes = "paused: stored spec is invalid (\(error))"
          try await self.store.update(record, on: connection)
          continue
        }
        let nowMs = max(Int64(Date().timeIntervalSince1970 * 1000), Int64((record.nextFireAt ?? Date()).timeIntervalSince1970 * 1000))
        // Rows written before next_nominal_at existed: the first nominal time at or after the due time.
        let first = record.nextNominalAt.map { Int64($0.timeIntervalSince1970) }
          ?? record.nextFireAt.flatMap { spec.nextFire(after: Int64($0.timeIntervalSince1970.rounded(.down)) - 1) }
        let plan = DuePlan(spec: spec, scheduleKey: record.jitterKey, first: first, nowMilliseconds: nowMs, catchupWindowMilliseconds: record.catchupWindowMilliseconds)
        for time in plan.missed {
          let nominal = Date(timeIntervalSince1970: Double(time))
          batch.recordFinal(record, Fire(nominal: nominal, due: nominal, trigger: "schedule"), status: "missed",
                      error: "missed while no scheduler was running; older than the catch-up window")
        }
        missedTotal += plan.missedCount
        let fires = plan.fires.map {
          Fire(nominal: Date(timeIntervalSince1970: Double($0.nominal)), due: Date(timeIntervalSince1970: Double($0.dueMilliseconds) / 1000), trigger: $0.trigger.rawValue)
        }
        let current = occupancy[record.uuid] ?? Occupancy()
        if fires.count == 1, let fire = fires.first {
          switch record.overlap.decide(activeRuns: current.active, buffered: current.buffered) {
          case .start:
            batch.start(record, fire)
          case .skip:
            batch.recordFinal(record, fire, status: "skipped", error: "a run of this schedule is still active (overlap policy \(record.overlap.rawValue))")
          case .buffer, .cancelActiveThenBuffer, .cancelActiveAndStart:
            outcome.merge(try await self.act(on: record, fires: fires, policy: record.overlap, occupancy: current, on: connection))
          }
        } else if !fires.isEmpty {
          outcome.merge(try await self.act(on: record, fires: fires, policy: record.overlap, occupancy: current, on: connection))
        }
        record.setNext(plan.next, spec: spec)
        batch.advance(record, missed: plan.missedCount, lastMissed: plan.missed.last.map { Date(timeIntervalSince1970: Double($0)) })
      }
      outcome.merge(try await self.write(batch, on: connection))
      return (rows.count, outcome, missedTotal)
    }
    self.metrics.missed(missed)
    return (claimed, outcome)
  }

  /// Live and buffered fires of each schedule, in one statement.
  private func occupancy(of records: [ScheduleRecord], on connection: PostgresConnection) async throws -> [UUID: Occupancy] {
    guard !records.isEmpty else { return [:] }
    let rows = try await connection.query(
      """
      SELECT s.id,
        (SELECT count(*) FROM schedule_fires f WHERE f.tenant = s.tenant AND f.schedule_id = s.id AND f.status IN ('starting', 'running')),
        (SELECT count(*) FROM buffered_fires b WHERE b.tenant = s.tenant AND b.schedule_id = s.id)
      FROM unnest(\(records.map(\.tenant))::text[], \(records.map(\.uuid))::uuid[]) AS s(tenant, id)
      """,
      logger: self.logger
    )
    var occupancy: [UUID: Occupancy] = [:]
    for try await (id, active, buffered) in rows.decode((UUID, Int64, Int64).self) {
      occupancy[id] = Occupancy(active: Int(active), buffered: Int(buffered))
    }
    return occupancy
  }

  /// Writes a tick's set-based part: the 'starting' fires (returning the runs to start), the
  /// skipped and missed fires, and each schedule's next fire time and counters.
  private func write(_ batch: TickBatch, on connection: PostgresConnection) async throws -> Outcome {
    var outcome = Outcome()
    var startedBySchedule: [UUID: Date] = [:]
    if !batch.starts.isEmpty {
      let starts = batch.starts
      let rows = try await connection.query(
        """
        INSERT INTO schedule_fires (tenant, schedule_id, fire_time, trigger, idempotency_key, status, claimed_by, next_check_at)
        SELECT t.tenant, t.schedule_id, t.fire_time, t.trigger, t.key, 'starting', \(self.configuration.replicaID),
               now() + make_interval(secs => \(self.configuration.redriveAfter.secondsDouble))
        FROM unnest(\(starts.map(\.record.tenant))::text[], \(starts.map(\.record.uuid))::uuid[], \(starts.map(\.fire.nominal))::timestamptz[],
                    \(starts.map(\.fire.trigger))::text[], \(starts.map(\.key))::text[]) AS t(tenant, schedule_id, fire_time, trigger, key)
        ON CONFLICT DO NOTHING
        RETURNING id, schedule_id
        """,
        logger: self.logger
      )
      var inserted: [UUID: Int64] = [:]
      for try await (id, scheduleUUID) in rows.decode((Int64, UUID).self) { inserted[scheduleUUID] = id }
      for start in starts {
        guard let id = inserted[start.record.uuid] else {
          outcome.results.append(nil)  // the fire time was acted on already (a trigger or backfill)
          continue
        }
        startedBySchedule[start.record.uuid] = start.fire.nominal
        outcome.results.append("starting")
        outcome.starts.append(StartJob(
          fireRowID: id, tenant: start.record.tenant, scheduleID: start.record.id, scheduleUUID: start.record.uuid, target: start.record.target,
          fireTime: start.fire.nominal, due: start.fire.due, trigger: start.fire.trigger))
      }
    }
    if !batch.finals.isEmpty {
      let finals = batch.finals
      let rows = try await connection.query(
        """
        INSERT INTO schedule_fires (tenant, schedule_id, fire_time, trigger, idempotency_key, status, claimed_by, error, finished_at)
        SELECT t.tenant, t.schedule_id, t.fire_time, t.trigger, t.key, t.status, \(self.configuration.replicaID), t.error, now()
        FROM unnest(\(finals.map(\.record.tenant))::text[], \(finals.map(\.record.uuid))::uuid[], \(finals.map(\.fire.nominal))::timestamptz[],
                    \(finals.map(\.fire.trigger))::text[], \(finals.map(\.key))::text[], \(finals.map(\.status))::text[],
                    \(finals.map(\.error))::text[]) AS t(tenant, schedule_id, fire_time, trigger, key, status, error)
        ON CONFLICT DO NOTHING
        RETURNING status
        """,
        logger: self.logger
      )
      for try await status in rows.decode(String.self) where status == "skipped" {
        self.metrics.fired(trigger: "schedule", result: "skipped")
      }
    }
    let advances = batch.advances
    guard !advances.isEmpty else { return outcome }
    let epoch = Date(timeIntervalSince1970: 0)
    _ = try await connection.query(
      """
      UPDATE schedules s SET
        next_fire_at = CASE WHEN t.has_next THEN t.next_fire_at END,
        next_nominal_at = CASE WHEN t.has_next THEN t.next_nominal_at END,
        missed_fires = s.missed_fires + t.missed,
        total_fires = s.total_fires + CASE WHEN t.started THEN 1 ELSE 0 END,
        last_fire_at = greatest(s.last_fire_at, CASE WHEN t.has_last THEN t.last_fire_at END)
      FROM unnest(\(advances.map(\.uuid))::uuid[], \(advances.map { $0.nextFireAt != nil })::bool[],
                  \(advances.map { $0.nextFireAt ?? epoch })::timestamptz[], \(advances.map { $0.nextNominalAt ?? $0.nextFireAt ?? epoch })::timestamptz[],
                  \(advances.map { Int64($0.missed) })::bigint[], \(advances.map { startedBySchedule[$0.uuid] != nil })::bool[],
                  \(advances.map { Self.latest($0.lastMissed, startedBySchedule[$0.uuid]) != nil })::bool[],
                  \(advances.map { Self.latest($0.lastMissed, startedBySchedule[$0.uuid]) ?? epoch })::timestamptz[])
        AS t(id, has_next, next_fire_at, next_nominal_at, missed, started, has_last, last_fire_at)
      WHERE s.id = t.id
      """,
      logger: self.logger
    ).collect()
    return outcome
  }

  private static func latest(_ a: Date?, _ b: Date?) -> Date? {
    switch (a, b) {
    case (let a?, let b?): max(a, b)
    case (let a?, nil): a
    case (nil, let b?): b
    case (nil, nil): nil
    }
  }
}

/// What one tick writes set-based, collected while the batch is planned.
struct TickBatch {
  struct Start {
    var record: ScheduleRecord
    var fire: SchedulerEngine.Fire
    var key: String
  }

  struct Final {
    var record: ScheduleRecord
    var fire: SchedulerEngine.Fire
    var key: String
    var status: String
    var error: String
  }

  struct Advance {
    var uuid: UUID
    var nextFireAt: Date?
    var nextNominalAt: Date?
    var missed: Int
    var lastMissed: Date?
  }

  /// At most one per schedule (a schedule with several due fires takes the per-schedule path).
  var starts: [Start] = []
  var finals: [Final] = []
  var advances: [Advance] = []

  mutating func start(_ record: ScheduleRecord, _ fire: SchedulerEngine.Fire) {
    self.starts.append(Start(record: record, fire: fire, key: FireKey.idempotencyKey(scheduleUUID: record.uuid, fireTime: fire.nominal)))
  }

  mutating func recordFinal(_ record: ScheduleRecord, _ fire: SchedulerEngine.Fire, status: String, error: String) {
    self.finals.append(Final(record: record, fire: fire, key: FireKey.idempotencyKey(scheduleUUID: record.uuid, fireTime: fire.nominal), status: status, error: error))
  }

  mutating func advance(_ record: ScheduleRecord, missed: Int, lastMissed: Date?) {
    self.advances.append(Advance(uuid: record.uuid, nextFireAt: record.nextFireAt, nextNominalAt: record.nextNominalAt, missed: missed, lastMissed: lastMissed))
  }
}
