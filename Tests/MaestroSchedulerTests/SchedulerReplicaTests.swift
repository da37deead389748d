import Foundation
import GRPCCore
import MaestroProtos
import MaestroTestSupport
import PostgresNIO
import Testing

/// Two scheduler replicas on one database.
@Suite("scheduler: replicas share the work, never double-fire, and take over a killed one")
struct SchedulerReplicaTests {
  @Test("two replicas never double-fire; after one is killed the other fires every schedule on time")
  func replicas() async throws {
    try await SchedulerSuite.with { suite in
      let a = try suite.startScheduler()
      let b = try suite.startScheduler()
      let count = 12
      try await suite.withSchedulerClient(a) { client in
        for index in 0..<count {
          _ = try await client.createSchedule(SchedulerSuite.schedule("r\(index)", cron: ["@every 1s"], policy: .allowAll), metadata: suite.user)
        }
      }
      // Both replicas claim fires.
      try await poll("both replicas have fired") {
        let rows = try await suite.sql("SELECT count(DISTINCT claimed_by)::int FROM scheduler.schedule_fires")
        return try rows.first?.decode(Int.self) == 2
      }
      let killedAt = Date()
      #expect(try await a.stop(signal: SIGKILL) != 0)
      // The survivor keeps firing every schedule: each gets fires after the kill.
      try await poll("every schedule fired 3 times after the kill", timeout: .seconds(60)) {
        let rows = try await suite.sql("""
          SELECT count(*)::int FROM (
            SELECT schedule_id FROM scheduler.schedule_fires WHERE fire_time > \(killedAt) AND status NOT IN ('starting')
            GROUP BY schedule_id HAVING count(*) >= 3) s
          """)
        return try rows.first?.decode(Int.self) == count
      }
      #expect(try await b.stop(timeout: .seconds(30)) == 0)
      // No schedule missed a second, and none fired a second twice: per schedule, the fire times
      // are consecutive seconds from the first to the last.
      let rows = try await suite.sql("""
        SELECT s.name, count(*)::int, (extract(epoch FROM max(f.fire_time) - min(f.fire_time)))::int + 1
        FROM scheduler.schedule_fires f JOIN scheduler.schedules s ON s.id = f.schedule_id
        GROUP BY s.name
        """)
      #expect(rows.count == count)
      for row in rows {
        let (name, fires, span) = try row.decode((String, Int, Int).self)
        #expect(fires == span, "\(name): \(fires) fires over \(span) seconds")
      }
      // workflow-service saw one run per fire (idempotency keys are unique per fire).
      let runs = try await suite.sql("SELECT count(*)::int, count(DISTINCT idempotency_key)::int FROM workflow.runs WHERE labels ? 'maestro.schedule-id'")
      let (total, distinct) = try runs[0].decode((Int, Int).self)
      #expect(total == distinct)
      let fires = try await suite.sql("SELECT count(*)::int FROM scheduler.schedule_fires WHERE run_id IS NOT NULL")
      #expect(try fires[0].decode(Int.self) == total)
    }
  }
}
