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
  /// StartRun slots of this replica (``Configuration/startConcurrency``).
  let permits: StartPermits
  let recorder: StartRecorder

  init(database: Database, starter: any RunStarter, metrics: SchedulerMetrics, configuration: Configuration, logger: Logger) {
    self.database = database
    self.store = ScheduleStore(database: database, logger: logger)
    self.starter = starter
    self.metrics = metrics
    self.configuration = configuration
    self.logger = logger
    self.permits = StartPermits(limit: configuration.startConcurrency)
    self.recorder = StartRecorder(database: database, replicaID: configuration.replicaID, runPollInterval: configuration.runPollInterval, logger: logger)
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

  /// A locked schedule's live fires ('starting' or 'running') and buffered fires.
  struct Occupancy: Sendable {
    var active = 0
    var buffered = 0
  }

  /// Applies `policy` to `fires` of the locked schedule `record`, in order. `occupancy` is the
  /// schedule's when the caller has read it already (the tick reads a batch's in one statement).
  func act(on record: ScheduleRecord, fires: [Fire], policy: OverlapPolicy, occupancy: Occupancy? = nil, on connection: PostgresConnection) async throws -> Outcome {
    var outcome = Outcome()
    guard !fires.isEmpty else { return outcome }
    var active = occupancy?.active ?? 0
    var buffered = occupancy?.buffered ?? 0
    if policy != .allowAll, occupancy == nil {
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

  /// Starts and cancels what an outcome asks for, and writes the results back; returns when all
  /// is done. Fires that end at once (start failed) may pump buffered fires, started in turn.
  func execute(_ outcome: Outcome) async {
    await withDiscardingTaskGroup { group in
      await self.submit(outcome, into: &group)
    }
  }

  /// Sends the outcome's cancels, then hands each start to a task of `group` as soon as a
  /// StartRun slot is free (waiting for one: the caller's back-pressure), without waiting for
  /// the calls to finish.
  func submit(_ outcome: Outcome, into group: inout DiscardingTaskGroup) async {
    for cancel in outcome.cancels {
      do {
        try await self.starter.cancel(tenant: cancel.tenant, runID: cancel.runID, reason: cancel.reason)
      } catch {
        self.logger.warning("CancelRun failed; the follower retries", metadata: ["run_id": "\(cancel.runID)", "error": "\(error)"])
      }
    }
    for job in outcome.starts {
      await self.permits.acquire()
      group.addTask {
        let followUps = await self.start(job)
        if !followUps.starts.isEmpty || !followUps.cancels.isEmpty { await self.execute(followUps) }
      }
    }
  }

  /// Calls StartRun for one fire and records the result. The caller holds a StartRun slot;
  /// it is given back as soon as the call returns (recording is not limited by the slots).
  func start(_ job: StartJob) async -> Outcome {
    let key = FireKey.idempotencyKey(scheduleUUID: job.scheduleUUID, fireTime: job.fireTime)
    let result: Result<StartedRun, StartFailure>
    do throws(StartFailure) {
      result = .success(try await self.starter.start(StartRequest(tenant: job.tenant, target: job.target, scheduleID: job.scheduleID, fireTime: job.fireTime, idempotencyKey: key)))
    } catch {
      result = .failure(error)
    }
    self.permits.release()
    switch result {
    case .success(let run):
      guard let runID = UUID(uuidString: run.runID) else {
        self.logger.error("StartRun returned a run id that is not a UUID; the fire is re-driven", metadata: ["schedule": "\(job.scheduleID)", "run_id": "\(run.runID)"])
        return Outcome()
      }
      let startedAt = Date()
      let lag = startedAt.timeIntervalSince(job.due)
      self.metrics.lag(lag, trigger: job.trigger)
      self.metrics.fired(trigger: job.trigger, result: "started")
      await self.recorder.record(StartRecorder.Confirmation(fireRowID: job.fireRowID, runID: runID, startedAt: startedAt, lagSeconds: lag))
      self.followWakeup.signal()
      return Outcome()
    case .failure(let failure) where failure.permanent:
      self.metrics.fired(trigger: job.trigger, result: "start_failed")
      let message = (failure.refused ? StartFailure.refusedPrefix : "") + failure.message
      self.logger.warning("run not started", metadata: ["schedule": "\(job.scheduleID)", "tenant": "\(job.tenant)", "error": "\(message)"])
      do {
        return try await self.finish(fireRowID: job.fireRowID, tenant: job.tenant, scheduleUUID: job.scheduleUUID, status: "start_failed", runStatus: "", error: String(message.prefix(1000)))
      } catch {
        self.logger.error("recording a failed start failed", metadata: ["error": "\(error)"])
        return Outcome()
      }
    case .failure(let failure):
      self.logger.warning("StartRun failed; retried with the same idempotency key", metadata: ["schedule": "\(job.scheduleID)", "error": "\(failure.message)"])
      _ = try? await self.database.client.query(
        "UPDATE schedule_fires SET error = \(String(failure.message.prefix(1000))), updated_at = now() WHERE id = \(job.fireRowID) AND status = 'starting'",
        logger: self.logger
      ).collect()
      return Outcome()
    }
  }
}

extension Duration {
  var secondsDouble: Double {
    let (seconds, attoseconds) = self.components
    return Double(seconds) + Double(attoseconds) / 1e18
  }
}
