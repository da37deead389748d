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
  /// fire time, commits, then starts the runs. Returns how many schedules it claimed.
  @discardableResult
  func tick() async throws -> Int {
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
      var outcome = Outcome()
      var missedTotal = 0
      for row in rows {
        var record = try ScheduleRecord(row: row)
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
          _ = try await self.insertFinal(
            record, Fire(nominal: nominal, due: nominal, trigger: "schedule"), status: "missed",
            error: "missed while no scheduler was running; older than the catch-up window", on: connection)
        }
        missedTotal += plan.missedCount
        let fires = plan.fires.map {
          Fire(nominal: Date(timeIntervalSince1970: Double($0.nominal)), due: Date(timeIntervalSince1970: Double($0.dueMilliseconds) / 1000), trigger: $0.trigger.rawValue)
        }
        outcome.merge(try await self.act(on: record, fires: fires, policy: record.overlap, on: connection))
        record.setNext(plan.next, spec: spec)
        _ = try await connection.query(
          """
          UPDATE schedules SET next_fire_at = \(record.nextFireAt), next_nominal_at = \(record.nextNominalAt),
            missed_fires = missed_fires + \(Int64(plan.missedCount)),
            last_fire_at = greatest(last_fire_at, \(plan.missed.last.map { Date(timeIntervalSince1970: Double($0)) }))
          WHERE id = \(record.uuid)
          """,
          logger: self.logger
        ).collect()
      }
      return (rows.count, outcome, missedTotal)
    }
    self.metrics.missed(missed)
    await self.execute(outcome)
    return claimed
  }
}
