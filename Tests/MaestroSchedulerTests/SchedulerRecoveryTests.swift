import Foundation
import GRPCCore
import MaestroProtos
import MaestroTestSupport
import PostgresNIO
import Testing

/// A crash between "run started" and "fire recorded" never starts a second run.
@Suite("scheduler: an unconfirmed start is re-driven with the same idempotency key (real processes)")
struct SchedulerRecoveryTests {
  @Test("a fire left 'starting' by a crashed replica is re-driven and gets the run that was already started")
  func redrive() async throws {
    try await SchedulerSuite.with { suite in
      let scheduler = try suite.startScheduler(["MAESTRO_SCHEDULER_IDLE_WAKEUP": "1s"])
      try await suite.withSchedulerClient(scheduler) { client in
        _ = try await client.createSchedule(SchedulerSuite.schedule("crashy", cron: ["@yearly"]), metadata: suite.user)
      }
      let uuid = try await suite.sql("SELECT id FROM scheduler.schedules WHERE name = 'crashy'")[0].decode(UUID.self)
      let fireTime = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / 60).rounded(.down) * 60 - 60)
      let key = "scheduler:\(uuid.uuidString.lowercased()):\(Int64(fireTime.timeIntervalSince1970) * 1000)"
      // The crashed replica had called StartRun (the run exists) but not recorded it.
      let started = try await suite.withWorkflowClient { workflows in
        try await workflows.startRun(.with { $0.workflowName = "quick"; $0.idempotencyKey = key }, metadata: suite.user).run
      }
      _ = try await suite.sql("""
        INSERT INTO scheduler.schedule_fires (tenant, schedule_id, fire_time, trigger, idempotency_key, status, claimed_by, next_check_at)
        VALUES ('default', \(uuid), \(fireTime), 'schedule', \(key), 'starting', 'crashed-replica', now() - interval '1 second')
        """)
      try await poll("the fire is re-driven and followed to its end") {
        let rows = try await suite.sql("SELECT status, coalesce(run_id::text, '') FROM scheduler.schedule_fires WHERE idempotency_key = \(key)")
        let (status, _) = try rows[0].decode((String, String).self)
        return status == "completed"
      }
      let rows = try await suite.sql("SELECT coalesce(run_id::text, ''), claimed_by FROM scheduler.schedule_fires WHERE idempotency_key = \(key)")
      let (runID, claimedBy) = try rows[0].decode((String, String).self)
      #expect(runID == started.id, "the re-driven start must return the run already started")
      #expect(claimedBy != "crashed-replica")
      let runs = try await suite.sql("SELECT count(*)::int FROM workflow.runs WHERE idempotency_key = \(key)")
      #expect(try runs[0].decode(Int.self) == 1)
      #expect(try await scheduler.stop(timeout: .seconds(30)) == 0)
    }
  }
}
