import Foundation
import Logging
import MaestroCore
import MaestroKit
import MaestroProtos
import MaestroSchedulerModel
import PostgresNIO

/// The scheduler's firing logic on its schema. Every decision is taken in a transaction that
/// holds the schedule's row lock (claimed with `FOR UPDATE SKIP LOCKED` by the tick, or locked
/// by an API call), and leaves `schedule_fires` rows saying what to do; StartRun/CancelRun calls
/// happen after the commit and their results are written back. A crash in between leaves a
/// 'starting' row that any replica re-drives with the same idempotency key.
final class SchedulerEngine: Sendable {
  struct Configuration: Sendable {
    /// Schedules claimed per tick transaction.
    var batchSize = 100
    /// Concurrent StartRun calls per replica.
    var startConcurrency = 32
    /// Longest idle sleep of the tick (a safety net: changes arrive by NOTIFY).
    var idleWakeup: Duration = .seconds(60)
    /// How often a running fire's run status is read.
    var runPollInterval: Duration = .seconds(2)
    /// After this, a 'starting' fire whose replica went silent is re-driven by any replica.
    var redriveAfter: Duration = .seconds(15)
    /// Name of this replica in `schedule_fires.claimed_by`.
    var replicaID = "scheduler"
  }

  let database: Database
  let store: ScheduleStore
  let starter: any RunStarter
  let metrics: SchedulerMetrics
  let logger: Logger
  let configuration: Configuration
  let tickWakeup = Wakeup()
  let followWakeup = Wakeup()

  init(database: Database, starter: any RunStarter, metrics: SchedulerMetrics, configuration: Configuration, logger: Logger) {
    self.database = database
    self.store = ScheduleStore(database: database, logger: logger)
    self.starter = starter
    self.metrics = metrics
    self.configuration = configuration
    self.logger = logger
  }

  /// One fire to act on.
  struct Fire: Sendable {
    var nominal: Date
    var due: Date
    var trigger: String
  }

  /// A run to start after the commit.
  struct StartJob: Sendable {
    var fireRowID: Int64
    var tenant: String
    var scheduleID: String
    var scheduleUUID: UUID
    var target: Maestro_Scheduler_V1_ScheduleTarget
    var fireTime: Date
    var due: Date
    var trigger: String
  }

  /// A run to cancel after the commit.
  struct CancelJob: Sendable {
    var tenant: String
    var runID: String
    var reason: String
  }

  /// What `act` decided for each fire, and the work to do after the commit.
  struct Outcome: Sendable {
    var starts: [StartJob] = []
    var cancels: [CancelJob] = []
    /// Per fire: the stored status ('starting', 'skipped', 'buffered') or nil when the fire
    /// time was already acted on (a repeated backfill or trigger).
    var results: [String?] = []

    mutating func merge(_ other: Outcome) {
      self.starts += other.starts
      self.cancels += other.cancels
      self.results += other.results
    }
  }

  /// Applies `policy` to `fires` of the locked schedule `record`, in order.
  func act(on record: ScheduleRecord, fires: [Fire], policy: OverlapPolicy, on connection: PostgresConnection) async throws -> Outcome {
    var outcome = Outcome()
    guard !fires.isEmpty else { return outcome }
    var active = 0
    var buffered = 0
    if policy != .allowAll {
      let rows = try await connection.query(
        """
        SELECT (SELECT count(*) FROM schedule_fires WHERE tenant = \(record.tenant) AND schedule_id = \(record.uuid) AND status IN ('starting', 'running')),
               (SELECT count(*) FROM buffered_fires WHERE tenant = \(record.tenant) AND schedule_id = \(record.uuid))
        """,
        logger: self.logger
      )
      for try await (a, b) in rows.decode((Int64, Int64).self) {
        active = Int(a)
        buffered = Int(b)
      }
    }
    for fire in fires {
      switch policy.decide(activeRuns: active, buffered: buffered) {
      case .start:
        let started = try await self.insertStarting(record, fire, on: connection)
        if !started.starts.isEmpty { active += 1 }
        outcome.merge(started)
      case .skip:
        let inserted = try await self.insertFinal(record, fire, status: "skipped", error: "a run of this schedule is still active (overlap policy \(policy.rawValue))", on: connection)
        outcome.results.append(inserted ? "skipped" : nil)
        if inserted { self.metrics.fired(trigger: fire.trigger, result: "skipped") }
      case .buffer:
        outcome.results.append(try await self.insertBuffered(record, fire, on: connection) ? "buffered" : nil)
        buffered += 1
      case .cancelActiveThenBuffer:
        outcome.cancels += try await self.requestCancel(record, reason: "cancelled by schedule \(record.id): overlap policy cancel_other", on: connection)
        outcome.results.append(try await self.insertBuffered(record, fire, on: connection) ? "buffered" : nil)
        buffered += 1
      case .cancelActiveAndStart:
        outcome.cancels += try await self.requestCancel(record, reason: "terminated by schedule \(record.id): overlap policy terminate_other", on: connection)
        let started = try await self.insertStarting(record, fire, on: connection)
        if !started.starts.isEmpty { active += 1 }
        outcome.merge(started)
      }
    }
    return outcome
  }

  private func insertStarting(_ record: ScheduleRecord, _ fire: Fire, on connection: PostgresConnection) async throws -> Outcome {
    var outcome = Outcome()
    let key = FireKey.idempotencyKey(scheduleUUID: record.uuid, fireTime: fire.nominal)
    let rows = try await connection.query(
      """
      INSERT INTO schedule_fires (tenant, schedule_id, fire_time, trigger, idempotency_key, status, claimed_by, next_check_at)
      VALUES (\(record.tenant), \(record.uuid), \(fire.nominal), \(fire.trigger), \(key), 'starting', \(self.configuration.replicaID),
              now() + make_interval(secs => \(self.configuration.redriveAfter.secondsDouble)))
      ON CONFLICT DO NOTHING
      RETURNING id
      """,
      logger: self.logger
    )
    var inserted: Int64?
    for try await id in rows.decode(Int64.self) { inserted = id }
    guard let id = inserted else {
      outcome.results.append(nil)
      return outcome
    }
    _ = try await connection.query(
      "UPDATE schedules SET total_fires = total_fires + 1, last_fire_at = greatest(last_fire_at, \(fire.nominal)) WHERE id = \(record.uuid)",
      logger: self.logger
    ).collect()
    outcome.results.append("starting")
    outcome.starts.append(StartJob(
      fireRowID: id, tenant: record.tenant, scheduleID: record.id, scheduleUUID: record.uuid, target: record.target,
      fireTime: fire.nominal, due: fire.due, trigger: fire.trigger))
    return outcome
  }

  /// Records a fire that starts nothing ('skipped', 'missed'); false when the time was taken.
  func insertFinal(_ record: ScheduleRecord, _ fire: Fire, status: String, error: String, on connection: PostgresConnection) async throws -> Bool {
    let key = FireKey.idempotencyKey(scheduleUUID: record.uuid, fireTime: fire.nominal)
    let rows = try await connection.query(
      """
      INSERT INTO schedule_fires (tenant, schedule_id, fire_time, trigger, idempotency_key, status, claimed_by, error, finished_at)
      VALUES (\(record.tenant), \(record.uuid), \(fire.nominal), \(fire.trigger), \(key), \(status), \(self.configuration.replicaID), \(error), now())
      ON CONFLICT DO NOTHING
      RETURNING id
      """,
      logger: self.logger
    ).collect()
    return !rows.isEmpty
  }

  private func insertBuffered(_ record: ScheduleRecord, _ fire: Fire, on connection: PostgresConnection) async throws -> Bool {
    let trigger = fire.trigger == "buffered" ? "schedule" : fire.trigger
    let rows = try await connection.query(
      """
      INSERT INTO buffered_fires (tenant, schedule_id, fire_time, trigger)
      SELECT \(record.tenant), \(record.uuid), \(fire.nominal), \(trigger)
      WHERE NOT EXISTS (SELECT 1 FROM schedule_fires WHERE tenant = \(record.tenant) AND schedule_id = \(record.uuid) AND fire_time = \(fire.nominal))
      ON CONFLICT DO NOTHING
      RETURNING id
      """,
      logger: self.logger
    ).collect()
    if !rows.isEmpty { self.metrics.fired(trigger: trigger, result: "buffered") }
    return !rows.isEmpty
  }

  /// Marks the schedule's live fires for cancellation and returns the runs to cancel now.
  private func requestCancel(_ record: ScheduleRecord, reason: String, on connection: PostgresConnection) async throws -> [CancelJob] {
    let rows = try await connection.query(
      """
      UPDATE schedule_fires SET cancel_requested = true, updated_at = now()
      WHERE tenant = \(record.tenant) AND schedule_id = \(record.uuid) AND status IN ('starting', 'running')
      RETURNING coalesce(run_id::text, '')
      """,
      logger: self.logger
    )
    var jobs: [CancelJob] = []
    for try await runID in rows.decode(String.self) where !runID.isEmpty {
      jobs.append(CancelJob(tenant: record.tenant, runID: runID, reason: reason))
    }
    return jobs
  }

  /// When the schedule has no live fire left, moves its oldest buffered fire to 'starting'.
  func pump(_ record: ScheduleRecord, on connection: PostgresConnection) async throws -> Outcome {
    let rows = try await connection.query(
      """
      DELETE FROM buffered_fires
      WHERE id = (
        SELECT id FROM buffered_fires WHERE tenant = \(record.tenant) AND schedule_id = \(record.uuid)
        ORDER BY fire_time LIMIT 1 FOR UPDATE SKIP LOCKED)
        AND NOT EXISTS (SELECT 1 FROM schedule_fires WHERE tenant = \(record.tenant) AND schedule_id = \(record.uuid) AND status IN ('starting', 'running'))
      RETURNING fire_time, trigger
      """,
      logger: self.logger
    )
    var outcome = Outcome()
    for try await (fireTime, trigger) in rows.decode((Date, String).self) {
      // A buffered fire's lag is measured from when it could start (now), not its nominal time.
      outcome.merge(try await self.insertStarting(record, Fire(nominal: fireTime, due: Date(), trigger: trigger), on: connection))
    }
    return outcome
  }

  // MARK: After the commit

  /// Starts and cancels what an outcome asks for, and writes the results back. Fires that end
  /// at once (start failed) may pump buffered fires, which are started in turn.
  func execute(_ outcome: Outcome) async {
    var pending = outcome
    while !pending.starts.isEmpty || !pending.cancels.isEmpty {
      let current = pending
      pending = Outcome()
      for cancel in current.cancels {
        do {
          try await self.starter.cancel(tenant: cancel.tenant, runID: cancel.runID, reason: cancel.reason)
        } catch {
          self.logger.warning("CancelRun failed; the follower retries", metadata: ["run_id": "\(cancel.runID)", "error": "\(error)"])
        }
      }
      let followUps = await withTaskGroup(of: Outcome.self, returning: Outcome.self) { group in
        var iterator = current.starts.makeIterator()
        var running = 0
        var merged = Outcome()
        while let job = iterator.next() {
          if running >= self.configuration.startConcurrency, let done = await group.next() {
            merged.merge(done)
            running -= 1
          }
          group.addTask { await self.start(job) }
          running += 1
        }
        for await done in group { merged.merge(done) }
        return merged
      }
      pending.merge(followUps)
    }
  }

  /// Calls StartRun for one fire and records the result.
  func start(_ job: StartJob) async -> Outcome {
    let key = FireKey.idempotencyKey(scheduleUUID: job.scheduleUUID, fireTime: job.fireTime)
    do {
      let run = try await self.starter.start(StartRequest(tenant: job.tenant, target: job.target, scheduleID: job.scheduleID, fireTime: job.fireTime, idempotencyKey: key))
      let startedAt = Date()
      let lag = startedAt.timeIntervalSince(job.due)
      self.metrics.lag(lag, trigger: job.trigger)
      self.metrics.fired(trigger: job.trigger, result: "started")
      _ = try await self.database.client.query(
        """
        UPDATE schedule_fires SET status = 'running', run_id = \(UUID(uuidString: run.runID)), started_at = \(startedAt),
          lag = make_interval(secs => \(max(0, lag))), error = NULL, claimed_by = \(self.configuration.replicaID),
          next_check_at = now() + make_interval(secs => \(self.configuration.runPollInterval.secondsDouble)), updated_at = now()
        WHERE id = \(job.fireRowID) AND status = 'starting'
        """,
        logger: self.logger
      ).collect()
      self.followWakeup.signal()
      return Outcome()
    } catch let failure as StartFailure {
      if failure.permanent {
        self.metrics.fired(trigger: job.trigger, result: "start_failed")
        let message = (failure.refused ? StartFailure.refusedPrefix : "") + failure.message
        self.logger.warning("run not started", metadata: ["schedule": "\(job.scheduleID)", "tenant": "\(job.tenant)", "error": "\(message)"])
        do {
          return try await self.finish(fireRowID: job.fireRowID, tenant: job.tenant, scheduleUUID: job.scheduleUUID, status: "start_failed", runStatus: "", error: String(message.prefix(1000)))
        } catch {
          self.logger.error("recording a failed start failed", metadata: ["error": "\(error)"])
          return Outcome()
        }
      }
      self.logger.warning("StartRun failed; retried with the same idempotency key", metadata: ["schedule": "\(job.scheduleID)", "error": "\(failure.message)"])
      _ = try? await self.database.client.query(
        "UPDATE schedule_fires SET error = \(String(failure.message.prefix(1000))), updated_at = now() WHERE id = \(job.fireRowID) AND status = 'starting'",
        logger: self.logger
      ).collect()
      return Outcome()
    } catch {
      // The run started but recording it failed: the fire stays 'starting' and is re-driven
      // (StartRun returns the same run for the same key).
      self.logger.error("recording a started run failed", metadata: ["schedule": "\(job.scheduleID)", "error": "\(error)"])
      return Outcome()
    }
  }

  /// Records a live fire's end, counts consecutive failures (pausing the schedule when
  /// `pause_after_failures` is reached) and pumps the next buffered fire.
  func finish(fireRowID: Int64, tenant: String, scheduleUUID: UUID, status: String, runStatus: String, error: String) async throws -> Outcome {
    try await self.database.withTransaction { connection in
      // The schedule row first, then its fires: the order every other writer locks them in.
      let rows = try await connection.query(
        "SELECT \(unescaped: ScheduleRecord.columns) FROM schedules WHERE tenant = \(tenant) AND id = \(scheduleUUID) FOR UPDATE",
        logger: self.logger
      ).collect()
      guard var record = try rows.first.map(ScheduleRecord.init(row:)) else { return Outcome() }
      let updated = try await connection.query(
        """
        UPDATE schedule_fires SET status = \(status), run_status = \(runStatus), error = nullif(\(error), ''), finished_at = now(),
          next_check_at = NULL, updated_at = now()
        WHERE id = \(fireRowID) AND status IN ('starting', 'running')
        RETURNING id
        """,
        logger: self.logger
      ).collect()
      guard !updated.isEmpty else { return Outcome() }
      if let failed = FireRecord.failed(status) {
        if failed { self.metrics.failure(status: status) }
        record.consecutiveFailures = failed ? record.consecutiveFailures + 1 : 0
        if failed, record.pauseAfterFailures > 0, record.consecutiveFailures >= record.pauseAfterFailures, !record.paused {
          record.paused = true
          record.pausedByFailures = true
          record.notes = "paused after \(record.consecutiveFailures) consecutive failures (last: \(status)\(error.isEmpty ? "" : ": \(error.prefix(200))"))"
          self.metrics.pausedByFailures()
          self.logger.notice("schedule paused by failures", metadata: ["schedule": "\(record.id)", "tenant": "\(record.tenant)"])
        }
        _ = try await connection.query(
          """
          UPDATE schedules SET consecutive_failures = \(Int32(record.consecutiveFailures)), paused = \(record.paused),
            paused_by_failures = \(record.pausedByFailures), notes = \(record.notes),
            paused_at = CASE WHEN \(record.paused) THEN coalesce(paused_at, now()) END,
            paused_by = CASE WHEN \(record.paused) THEN coalesce(paused_by, 'system:pause_on_failure') END
          WHERE id = \(record.uuid)
          """,
          logger: self.logger
        ).collect()
      }
      return try await self.pump(record, on: connection)
    }
  }
}

extension Duration {
  var secondsDouble: Double {
    let (seconds, attoseconds) = self.components
    return Double(seconds) + Double(attoseconds) / 1e18
  }
}
