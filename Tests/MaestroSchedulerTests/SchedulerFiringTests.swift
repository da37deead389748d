import AsyncHTTPClient
import Foundation
import NIOCore
import GRPCCore
import MaestroProtos
import MaestroTestSupport
import PostgresNIO
import SwiftProtobuf
import Testing

/// The scheduler process firing real runs on a real workflow-service process (real Postgres).
@Suite("scheduler: firing, overlap, catch-up, pause/resume/trigger/backfill (real processes)", .serialized)
struct SchedulerFiringTests {
  @Test("a cron schedule fires on time; each run carries the schedule's labels and idempotency key")
  func fires() async throws {
    try await SchedulerSuite.with { suite in
      let scheduler = try suite.startScheduler()
      try await suite.withSchedulerClient(scheduler) { client in
        let requested = Date()
        let created = try await client.createSchedule(SchedulerSuite.schedule("every-second", cron: ["* * * * * *"]), metadata: suite.user).schedule
        // The next fire is a whole second after the schedule was created (however slow the call).
        #expect(created.state.nextFireTime.date > requested)
        var schedule = created
        try await poll("two completed runs") {
          schedule = try await client.getSchedule(.with { $0.scheduleID = "every-second" }, metadata: suite.user).schedule
          return schedule.state.recentActions.filter { $0.runStatus == "RUN_STATUS_COMPLETED" }.count >= 2
        }
        let action = try #require(schedule.state.recentActions.first { $0.runStatus == "RUN_STATUS_COMPLETED" })
        #expect(action.trigger == .scheduled)
        #expect(action.result == .started)
        #expect(action.fireTime.nanos == 0, "nominal fire times are whole seconds")
        let run = try await suite.withWorkflowClient { try await $0.getRun(.with { $0.runID = action.runID }, metadata: suite.user).run }
        #expect(run.labels["maestro.schedule-id"] == "every-second")
        #expect(run.idempotencyKey.hasPrefix("scheduler:"))
        #expect(run.idempotencyKey.hasSuffix(":\(action.fireTime.seconds * 1000)"))
        // Every fire time was acted on once: consecutive seconds, no duplicates.
        let times = schedule.state.recentActions.map(\.fireTime.seconds).sorted()
        #expect(Set(times).count == times.count)
        // The lag histogram is exported.
        let metrics = try await suite.metrics(scheduler)
        #expect(metrics.contains("maestro_scheduler_fire_lag_seconds_bucket"))
        #expect(metrics.contains("maestro_scheduler_fires_total{trigger=\"schedule\",result=\"started\"}") || metrics.contains("maestro_scheduler_fires_total{result=\"started\",trigger=\"schedule\"}"))
      }
      #expect(try await scheduler.stop(timeout: .seconds(30)) == 0)
    }
  }

  @Test("each overlap policy, driven by TriggerSchedule against a 5-second run")
  func overlapPolicies() async throws {
    try await SchedulerSuite.with { suite in
      let scheduler = try suite.startScheduler()
      try await suite.withSchedulerClient(scheduler) { client in
        // Paused: only the triggers below fire it.
        _ = try await client.createSchedule(SchedulerSuite.schedule("napper", cron: ["@yearly"], workflow: "nap", paused: true), metadata: suite.user)
        func trigger(_ policy: Maestro_Scheduler_V1_OverlapPolicy) async throws -> Maestro_Scheduler_V1_ScheduleAction {
          try await client.triggerSchedule(.with { $0.scheduleID = "napper"; $0.overlapPolicy = policy }, metadata: suite.user).action
        }
        func state() async throws -> Maestro_Scheduler_V1_ScheduleState {
          try await client.getSchedule(.with { $0.scheduleID = "napper" }, metadata: suite.user).schedule.state
        }
        func idle() async throws {
          try await poll("no active run and nothing buffered") {
            let s = try await state()
            return s.runningRunIds.isEmpty && s.bufferedFires == 0 && !s.recentActions.contains { $0.result == .started && $0.runStatus.isEmpty }
          }
        }
        func runStatus(_ id: String) async throws -> Maestro_Workflow_V1_Run {
          try await suite.withWorkflowClient { try await $0.getRun(.with { $0.runID = id }, metadata: suite.user).run }
        }

        // SKIP: the second fire is dropped while the first runs.
        let skipFirst = try await trigger(.skip)
        #expect(skipFirst.result == .started)
        #expect(!skipFirst.runID.isEmpty)
        #expect(try await trigger(.skip).result == .skippedOverlap)
        try await idle()

        // ALLOW_ALL: both start and overlap.
        let one = try await trigger(.allowAll)
        let two = try await trigger(.allowAll)
        #expect(one.result == .started && two.result == .started)
        try await idle()
        #expect(try await runStatus(two.runID).startedAt.date < (try await runStatus(one.runID)).completedAt.date)

        // BUFFER_ONE: one waits, a third is dropped; the waiting one starts after the first ends.
        let first = try await trigger(.bufferOne)
        #expect(try await trigger(.bufferOne).result == .buffered)
        #expect(try await trigger(.bufferOne).result == .skippedOverlap)
        try await idle()
        let afterBufferOne = try await state().recentActions
        let bufferedRun = try #require(afterBufferOne.first { $0.result == .started && $0.runID != first.runID && $0.runStatus == "RUN_STATUS_COMPLETED" })
        #expect(try await runStatus(bufferedRun.runID).startedAt.date >= (try await runStatus(first.runID)).completedAt.date.addingTimeInterval(-0.01))

        // BUFFER_ALL: all wait their turn and run one after another.
        let bufferAll = [try await trigger(.bufferAll), try await trigger(.bufferAll), try await trigger(.bufferAll)]
        #expect(bufferAll.map(\.result) == [.started, .buffered, .buffered])
        try await idle()
        let fireTimes = Set(bufferAll.map(\.fireTime.milliseconds))
        let runs = try await state().recentActions.filter { fireTimes.contains($0.fireTime.milliseconds) }
        try #require(runs.count == 3)
        #expect(runs.allSatisfy { $0.runStatus == "RUN_STATUS_COMPLETED" })
        var spans: [(Date, Date)] = []
        for action in runs { let run = try await runStatus(action.runID); spans.append((run.startedAt.date, run.completedAt.date)) }
        spans.sort { $0.0 < $1.0 }
        #expect(spans[1].0 >= spans[0].1.addingTimeInterval(-0.01) && spans[2].0 >= spans[1].1.addingTimeInterval(-0.01), "buffered runs overlapped: \(spans)")

        // CANCEL_OTHER: the active run is cancelled, the new fire waits for it to end, then runs.
        let victim = try await trigger(.cancelOther)
        let waiting = try await trigger(.cancelOther)
        #expect(waiting.result == .buffered)
        try await idle()
        #expect(try await runStatus(victim.runID).status == .cancelled)
        let replacement = try #require(try await state().recentActions.first { $0.fireTime.milliseconds == waiting.fireTime.milliseconds })
        #expect(replacement.runStatus == "RUN_STATUS_COMPLETED")

        // TERMINATE_OTHER: the active run is cancelled and the new one starts at once.
        let terminated = try await trigger(.terminateOther)
        let successor = try await trigger(.terminateOther)
        #expect(successor.result == .started)
        try await idle()
        #expect(try await runStatus(terminated.runID).status == .cancelled)
        #expect(try await runStatus(successor.runID).status == .completed)
      }
      #expect(try await scheduler.stop(timeout: .seconds(30)) == 0)
    }
  }

  @Test("after downtime: misses within the catch-up window start (CATCHUP), older ones are recorded as MISSED")
  func catchUp() async throws {
    try await SchedulerSuite.with { suite in
      var scheduler = try suite.startScheduler()
      try await suite.withSchedulerClient(scheduler) { client in
        _ = try await client.createSchedule(SchedulerSuite.schedule("minutely", cron: ["* * * * *"], policy: .allowAll) {
          $0.catchupWindow = .init(seconds: 180)
        }, metadata: suite.user)
      }
      #expect(try await scheduler.stop(timeout: .seconds(30)) == 0)
      // Ten minutes of downtime: move the schedule's next fire back by ten minutes.
      _ = try await suite.sql("""
        UPDATE scheduler.schedules SET next_nominal_at = date_trunc('minute', now()) - interval '10 minutes',
          next_fire_at = date_trunc('minute', now()) - interval '10 minutes' WHERE name = 'minutely'
        """)
      scheduler = try suite.startScheduler()
      try await suite.withSchedulerClient(scheduler) { client in
        var schedule = Maestro_Scheduler_V1_Schedule()
        try await poll("the backlog is planned") {
          schedule = try await client.getSchedule(.with { $0.scheduleID = "minutely" }, metadata: suite.user).schedule
          return schedule.state.missedFires > 0 && schedule.state.nextFireTime.date > Date()
        }
        let actions = schedule.state.recentActions
        let missed = actions.filter { $0.result == .missed }
        let caughtUp = actions.filter { $0.trigger == .catchup }
        // 10 minutes back, a 3-minute window: 7 or 8 missed (the window edge moves while it runs).
        #expect((7...8).contains(schedule.state.missedFires), "\(schedule.state.missedFires) missed")
        #expect(missed.count == Int(schedule.state.missedFires))
        #expect((2...4).contains(caughtUp.count), "\(caughtUp.count) caught up")
        #expect(caughtUp.allSatisfy { $0.result == .started })
        let oldestCaughtUp = try #require(caughtUp.map(\.fireTime.date).min())
        #expect(missed.allSatisfy { $0.fireTime.date < oldestCaughtUp })
        #expect(oldestCaughtUp >= Date().addingTimeInterval(-200))
      }
      #expect(try await scheduler.stop(timeout: .seconds(30)) == 0)
    }
  }

  @Test("pause with a note stops fires; trigger works while paused; resume fires again; backfill runs a range in order; delete")
  func pauseResumeTriggerBackfill() async throws {
    try await SchedulerSuite.with { suite in
      let scheduler = try suite.startScheduler()
      try await suite.withSchedulerClient(scheduler) { client in
        _ = try await client.createSchedule(SchedulerSuite.schedule("ticker", cron: ["@every 1s"], policy: .allowAll), metadata: suite.user)
        func get() async throws -> Maestro_Scheduler_V1_Schedule {
          try await client.getSchedule(.with { $0.scheduleID = "ticker" }, metadata: suite.user).schedule
        }
        try await poll("a first fire") { try await get().state.totalFires >= 1 }
        let paused = try await client.pauseSchedule(.with { $0.scheduleID = "ticker"; $0.note = "maintenance window" }, metadata: suite.user).schedule
        #expect(paused.state.paused)
        #expect(paused.state.notes == "maintenance window")
        #expect(!paused.state.hasNextFireTime)
        let total = try await get().state.totalFires
        // Nothing fires for 2.5 s while paused (a schedule firing every second would).
        let quietUntil = ContinuousClock.now + .milliseconds(2500)
        while ContinuousClock.now < quietUntil {
          #expect(try await get().state.totalFires == total)
          try await Task.sleep(for: .milliseconds(250))
        }
        let manual = try await client.triggerSchedule(.with { $0.scheduleID = "ticker" }, metadata: suite.user).action
        #expect(manual.trigger == .manual)
        #expect(manual.result == .started)
        let resumed = try await client.resumeSchedule(.with { $0.scheduleID = "ticker"; $0.note = "back" }, metadata: suite.user).schedule
        #expect(!resumed.state.paused)
        #expect(resumed.state.hasNextFireTime)
        try await poll("fires again after resume") { try await get().state.totalFires >= total + 3 }

        // Backfill the last three whole hours of an hourly schedule: three fires, one after another.
        _ = try await client.createSchedule(SchedulerSuite.schedule("hourly", cron: ["0 * * * *"], workflow: "quick"), metadata: suite.user)
        let hour = (Date().timeIntervalSince1970 / 3600).rounded(.down) * 3600
        let backfill = try await client.backfillSchedule(.with {
          $0.scheduleID = "hourly"
          $0.timeRange = .with { $0.startTime = .init(seconds: Int64(hour) - 3 * 3600); $0.endTime = .init(seconds: Int64(hour)) }
        }, metadata: suite.user)
        #expect(backfill.fireCount == 3)
        try await poll("the backfilled runs complete") {
          let actions = try await client.getSchedule(.with { $0.scheduleID = "hourly" }, metadata: suite.user).schedule.state.recentActions
          return actions.filter { $0.trigger == .backfill && $0.runStatus == "RUN_STATUS_COMPLETED" }.count == 3
        }
        // A repeated backfill of the same range starts nothing new (same idempotency keys).
        _ = try await client.backfillSchedule(.with {
          $0.scheduleID = "hourly"
          $0.timeRange = .with { $0.startTime = .init(seconds: Int64(hour) - 3 * 3600); $0.endTime = .init(seconds: Int64(hour)) }
        }, metadata: suite.user)
        let runs = try await suite.withWorkflowClient {
          try await $0.listRuns(.with { $0.labels = ["maestro.schedule-id": "hourly"] }, metadata: suite.user).runs
        }
        #expect(runs.filter { $0.labels["maestro.schedule-id"] == "hourly" }.count == 3)

        _ = try await client.deleteSchedule(.with { $0.scheduleID = "hourly" }, metadata: suite.user)
        await #expect(throws: RPCError.self) { try await client.getSchedule(.with { $0.scheduleID = "hourly" }, metadata: suite.user) }
      }
      #expect(try await scheduler.stop(timeout: .seconds(30)) == 0)
    }
  }

  @Test("pause-on-failure: after N consecutive failed runs the schedule pauses itself and says why")
  func pauseOnFailure() async throws {
    try await SchedulerSuite.with { suite in
      let scheduler = try suite.startScheduler()
      try await suite.withSchedulerClient(scheduler) { client in
        _ = try await client.createSchedule(SchedulerSuite.schedule("doomed", cron: ["@every 1s"], workflow: "boom", policy: .allowAll) {
          $0.pauseAfterFailures = 2
        }, metadata: suite.user)
        var schedule = Maestro_Scheduler_V1_Schedule()
        try await poll("paused by failures") {
          schedule = try await client.getSchedule(.with { $0.scheduleID = "doomed" }, metadata: suite.user).schedule
          return schedule.state.paused
        }
        #expect(schedule.state.pausedByFailures)
        #expect(schedule.state.consecutiveFailures >= 2)
        #expect(schedule.state.notes.contains("2 consecutive failures"), "\(schedule.state.notes)")
        // A missing workflow is a failure to start, recorded with the reason.
        _ = try await client.createSchedule(SchedulerSuite.schedule("ghost", cron: ["@yearly"], workflow: "no-such-workflow"), metadata: suite.user)
        let action = try await client.triggerSchedule(.with { $0.scheduleID = "ghost" }, metadata: suite.user).action
        #expect(action.result == .startFailed)
        #expect(!action.message.isEmpty)
      }
      #expect(try await scheduler.stop(timeout: .seconds(30)) == 0)
    }
  }
}

extension Google_Protobuf_Timestamp {
  /// Whole milliseconds (what the scheduler stores for manual fires).
  var milliseconds: Int64 { self.seconds * 1000 + Int64((Double(self.nanos) / 1e6).rounded()) }
}

extension SchedulerSuite {
  /// The scheduler's /metrics text.
  func metrics(_ process: ServiceProcess) async throws -> String {
    let port = try await process.port("admin_port")
    let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/metrics"), timeout: .seconds(10))
    return String(buffer: try await response.body.collect(upTo: 16 << 20))
  }
}
