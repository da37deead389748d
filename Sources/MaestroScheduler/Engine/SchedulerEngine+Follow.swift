import Foundation
import MaestroKit
import MaestroProtos
import PostgresNIO

extension SchedulerEngine {
  /// Time until the next live fire is due a look; nil when there is none.
  func untilNextCheck() async throws -> Duration? {
    let rows = try await self.database.client.query(
      """
      SELECT (extract(epoch FROM (min(next_check_at) - clock_timestamp())) * 1000)::bigint
      FROM schedule_fires WHERE status IN ('starting', 'running')
      """,
      logger: self.logger
    )
    for try await milliseconds in rows.decode(Int64?.self) {
      return milliseconds.map { .milliseconds(max(0, $0)) }
    }
    return nil
  }

  /// Looks at live fires that are due a check: re-drives 'starting' fires whose replica went
  /// silent, reads 'running' fires' run status (recording the end, counting failures, pumping
  /// buffered fires) and re-sends requested cancels. Returns how many fires it looked at.
  @discardableResult
  func follow(limit: Int = 100) async throws -> Int {
    struct Live: Sendable {
      var id: Int64
      var tenant: String
      var scheduleUUID: UUID
      var scheduleID: String
      var fireTime: Date
      var status: String
      var runID: String
      var cancelRequested: Bool
      var trigger: String
      var target: String
    }
    let live: [Live] = try await self.database.withTransaction { connection in
      let rows = try await connection.query(
        """
        SELECT f.id, f.tenant, f.schedule_id, s.name, f.fire_time, f.status, coalesce(f.run_id::text, ''), f.cancel_requested, f.trigger, s.target::text
        FROM schedule_fires f JOIN schedules s ON s.tenant = f.tenant AND s.id = f.schedule_id
        WHERE f.status IN ('starting', 'running') AND f.next_check_at <= now()
        ORDER BY f.next_check_at LIMIT \(limit)
        FOR UPDATE OF f SKIP LOCKED
        """,
        logger: self.logger
      )
      var live: [Live] = []
      for try await (id, tenant, uuid, name, fireTime, status, runID, cancel, trigger, target) in rows.decode((Int64, String, UUID, String, Date, String, String, Bool, String, String).self) {
        live.append(Live(id: id, tenant: tenant, scheduleUUID: uuid, scheduleID: name, fireTime: fireTime, status: status, runID: runID, cancelRequested: cancel, trigger: trigger, target: target))
      }
      guard !live.isEmpty else { return live }
      _ = try await connection.query(
        """
        UPDATE schedule_fires SET next_check_at = now() + CASE status WHEN 'starting' THEN make_interval(secs => \(self.configuration.redriveAfter.secondsDouble))
                                                       ELSE make_interval(secs => \(self.configuration.runPollInterval.secondsDouble)) END,
          claimed_by = \(self.configuration.replicaID)
        WHERE id = ANY(\(live.map(\.id)))
        """,
        logger: self.logger
      ).collect()
      return live
    }
    var outcome = Outcome()
    var running: [Live] = []
    for fire in live {
      if fire.status == "starting" {
        let target = (try? Maestro_Scheduler_V1_ScheduleTarget(jsonString: fire.target)) ?? .init()
        self.logger.info("re-driving a fire whose start was not confirmed", metadata: ["schedule": "\(fire.scheduleID)", "fire_time": "\(fire.fireTime)"])
        outcome.starts.append(StartJob(
          fireRowID: fire.id, tenant: fire.tenant, scheduleID: fire.scheduleID, scheduleUUID: fire.scheduleUUID, target: target,
          fireTime: fire.fireTime, due: fire.fireTime, trigger: fire.trigger))
      } else {
        running.append(fire)
      }
    }
    // Status reads run concurrently (bounded); the ends they find are recorded together.
    let ends = await withTaskGroup(of: FireEnd?.self, returning: [FireEnd].self) { group in
      var ends: [FireEnd] = []
      var inFlight = 0
      for fire in running {
        if inFlight >= self.configuration.startConcurrency, let done = await group.next() {
          if let end = done { ends.append(end) }
          inFlight -= 1
        }
        inFlight += 1
        group.addTask {
          do {
            guard let status = try await self.starter.status(tenant: fire.tenant, runID: fire.runID) else {
              return FireEnd(fireRowID: fire.id, tenant: fire.tenant, scheduleUUID: fire.scheduleUUID, status: "cancelled", runStatus: "", error: "run not found in workflow-service")
            }
            if let final = FireRecord.status(of: status) {
              return FireEnd(fireRowID: fire.id, tenant: fire.tenant, scheduleUUID: fire.scheduleUUID, status: final, runStatus: Self.runStatusName(status), error: "")
            }
            if fire.cancelRequested {
              try await self.starter.cancel(tenant: fire.tenant, runID: fire.runID, reason: "cancelled by schedule \(fire.scheduleID): overlap policy")
            }
          } catch {
            self.logger.warning("reading a run's status failed; retried", metadata: ["run_id": "\(fire.runID)", "error": "\(error)"])
          }
          return nil
        }
      }
      for await done in group { if let end = done { ends.append(end) } }
      return ends
    }
    let followed: Outcome
    do {
      followed = try await self.finish(ends)
    } catch {
      // The fires stay live and are looked at again after the poll interval.
      self.logger.warning("recording ended runs failed; retried", metadata: ["fires": "\(ends.count)", "error": "\(String(reflecting: error))"])
      followed = Outcome()
    }
    outcome.merge(followed)
    await self.execute(outcome)
    return live.count
  }

  static func runStatusName(_ status: Maestro_Workflow_V1_RunStatus) -> String {
    switch status {
    case .completed: "RUN_STATUS_COMPLETED"
    case .failed: "RUN_STATUS_FAILED"
    case .cancelled: "RUN_STATUS_CANCELLED"
    case .timedOut: "RUN_STATUS_TIMED_OUT"
    case .running: "RUN_STATUS_RUNNING"
    case .pending: "RUN_STATUS_PENDING"
    default: "RUN_STATUS_UNSPECIFIED"
    }
  }
}
