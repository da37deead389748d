import Foundation
import GRPCCore
import MaestroProtos
import MaestroTestSupport
import SwiftProtobuf
import Testing

/// The API's validation, tenancy, paging, updates and previews (scheduler process, real Postgres).
@Suite("scheduler API: validation naming fields, tenant scope, paging, update, preview")
struct SchedulerAPITests {
  @Test("bad input is INVALID_ARGUMENT naming the field; tenants see only their schedules; lists page; updates recompute")
  func api() async throws {
    try await SchedulerSuite.with { suite in
      let scheduler = try suite.startScheduler()
      try await suite.withSchedulerClient(scheduler) { client in
        func field(_ request: Maestro_Scheduler_V1_CreateScheduleRequest) async -> String? {
          do {
            _ = try await client.createSchedule(request, metadata: suite.user)
            return nil
          } catch let error as RPCError {
            #expect(error.code == .invalidArgument, "\(error)")
            return error.metadata[stringValues: "maestro-field"].first(where: { _ in true })
          } catch {
            return "\(error)"
          }
        }
        #expect(await field(SchedulerSuite.schedule("bad", cron: ["0 0 * * *", "61 * * * *"])) == "schedule.spec.cron_expressions[1]")
        #expect(await field(SchedulerSuite.schedule("bad", cron: ["@daily"]) { $0.spec.timeZone = "Mars/Olympus" }) == "schedule.spec.time_zone")
        #expect(await field(SchedulerSuite.schedule("bad", cron: [])) == "schedule.spec.cron_expressions")
        #expect(await field(SchedulerSuite.schedule("Bad Id", cron: ["@daily"])) == "schedule.id")
        #expect(await field(SchedulerSuite.schedule("bad", cron: ["@daily"]) { $0.target.templateName = "t" }) == "schedule.target.workflow_name")
        #expect(await field(SchedulerSuite.schedule("bad", cron: ["@daily"]) { $0.spec.intervals = [.with { $0.every = .init(seconds: 60); $0.offset = .init(seconds: 60) }] }) == "schedule.spec.intervals[0]")
        #expect(await field(SchedulerSuite.schedule("bad", cron: ["@daily"]) { $0.catchupWindow = .init(seconds: -1) }) == "schedule.catchup_window")

        for index in 0..<5 {
          _ = try await client.createSchedule(SchedulerSuite.schedule("s\(index)", cron: ["@daily"]) { $0.labels = ["team": index % 2 == 0 ? "even" : "odd"] }, metadata: suite.user)
        }
        await #expect(throws: RPCError.self) { try await client.createSchedule(SchedulerSuite.schedule("s0", cron: ["@daily"]), metadata: suite.user) }
        var seen: [String] = []
        var token = ""
        repeat {
          let page = try await client.listSchedules(.with { $0.pageSize = 2; $0.pageToken = token }, metadata: suite.user)
          #expect(page.schedules.count <= 2)
          seen += page.schedules.map(\.id)
          token = page.nextPageToken
        } while !token.isEmpty
        #expect(seen == ["s0", "s1", "s2", "s3", "s4"])
        let even = try await client.listSchedules(.with { $0.labels = ["team": "even"] }, metadata: suite.user).schedules.map(\.id)
        #expect(even == ["s0", "s2", "s4"])

        // Another tenant sees none of them.
        let other = try await suite.issuer.sign(TestTokenIssuer.claims(subject: "o", tenant: "other", roles: ["workflow-operator"]))
        let otherMetadata: Metadata = ["authorization": "Bearer \(other)"]
        #expect(try await client.listSchedules(.init(), metadata: otherMetadata).schedules.isEmpty)
        do {
          _ = try await client.getSchedule(.with { $0.scheduleID = "s0" }, metadata: otherMetadata)
          Issue.record("another tenant read s0")
        } catch let error as RPCError {
          #expect(error.code == .notFound)
        }
        // A viewer may read but not write.
        let viewer = try await suite.issuer.sign(TestTokenIssuer.claims(subject: "v", tenant: "default", roles: ["viewer"]))
        do {
          _ = try await client.pauseSchedule(.with { $0.scheduleID = "s0" }, metadata: ["authorization": "Bearer \(viewer)"])
          Issue.record("a viewer paused a schedule")
        } catch let error as RPCError {
          #expect(error.code == .permissionDenied)
        }

        // Update: the spec changes the next fire time; a stale revision is refused.
        let before = try await client.getSchedule(.with { $0.scheduleID = "s1" }, metadata: suite.user).schedule
        let updated = try await client.updateSchedule(.with {
          $0.schedule = .with { $0.id = "s1"; $0.revision = before.revision; $0.spec = .with { $0.cronExpressions = ["@yearly"]; $0.timeZone = "Asia/Tokyo" } }
          $0.updateMask = .with { $0.paths = ["spec"] }
        }, metadata: suite.user).schedule
        #expect(updated.revision == before.revision + 1)
        #expect(updated.spec.timeZone == "Asia/Tokyo")
        #expect(updated.target.workflowName == "quick")
        #expect(updated.state.nextFireTime.date > before.state.nextFireTime.date)
        do {
          _ = try await client.updateSchedule(.with {
            $0.schedule = .with { $0.id = "s1"; $0.revision = before.revision; $0.description_p = "stale" }
            $0.updateMask = .with { $0.paths = ["description"] }
          }, metadata: suite.user)
          Issue.record("a stale revision was accepted")
        } catch let error as RPCError {
          #expect(error.code == .aborted)
        }

        // Preview: DST in Berlin; inline spec and existing schedule.
        let preview = try await client.previewSchedule(.with {
          $0.spec = .with { $0.cronExpressions = ["30 2 * * *"]; $0.timeZone = "Europe/Berlin" }
          $0.after = .init(seconds: 1_743_246_000)  // 2025-03-29T11:00:00Z
          $0.count = 2
        }, metadata: suite.user)
        #expect(preview.localFireTimes == ["2025-03-30T03:00:00+02:00", "2025-03-31T02:30:00+02:00"])
        #expect(preview.fireTimes.map(\.seconds) == [1_743_296_400, 1_743_381_000])
        let existing = try await client.previewSchedule(.with { $0.scheduleID = "s0"; $0.count = 3 }, metadata: suite.user)
        #expect(existing.fireTimes.count == 3)
        do {
          _ = try await client.previewSchedule(.with { $0.scheduleID = "s0"; $0.count = 5000 }, metadata: suite.user)
          Issue.record("count 5000 was accepted")
        } catch let error as RPCError {
          #expect(error.code == .invalidArgument)
        }
      }
      #expect(try await scheduler.stop(timeout: .seconds(30)) == 0)
    }
  }

  @Test("reference schedules are installed once for the default tenant, and can be disabled")
  func referenceSchedules() async throws {
    try await SchedulerSuite.with { suite in
      let first = try suite.startScheduler(["MAESTRO_SCHEDULER_REFERENCE_SCHEDULES": "true"])
      try await suite.withSchedulerClient(first) { client in
        try await poll("reference schedules installed") {
          (try? await client.listSchedules(.init(), metadata: suite.user).schedules.count) == 2
        }
        let schedules = try await client.listSchedules(.init(), metadata: suite.user).schedules
        #expect(schedules.map(\.id) == ["reference-hello-case", "reference-hello-world"])
        #expect(schedules.map(\.spec.cronExpressions) == [["0 */6 * * *"], ["*/5 * * * *"]])
        let preview = try await client.previewSchedule(.with { $0.scheduleID = "reference-hello-world"; $0.count = 2 }, metadata: suite.user)
        #expect(preview.fireTimes[1].seconds - preview.fireTimes[0].seconds == 300)
        // hello-case may not exist: triggering it records a failed start and nothing breaks.
        let action = try await client.triggerSchedule(.with { $0.scheduleID = "reference-hello-case" }, metadata: suite.user).action
        #expect(action.result == .startFailed || action.result == .started)
        _ = try await client.pauseSchedule(.with { $0.scheduleID = "reference-hello-world"; $0.note = "operator" }, metadata: suite.user)
      }
      #expect(try await first.stop(timeout: .seconds(30)) == 0)
      // A restart does not overwrite them (the pause stays).
      let second = try suite.startScheduler(["MAESTRO_SCHEDULER_REFERENCE_SCHEDULES": "true"])
      try await suite.withSchedulerClient(second) { client in
        _ = try await second.waitForLogValue("installed")
        let world = try await client.getSchedule(.with { $0.scheduleID = "reference-hello-world" }, metadata: suite.user).schedule
        #expect(world.state.paused)
        #expect(world.state.notes == "operator")
      }
      #expect(try await second.stop(timeout: .seconds(30)) == 0)
    }
    try await SchedulerSuite.with { suite in
      let scheduler = try suite.startScheduler(["MAESTRO_SCHEDULER_REFERENCE_SCHEDULES": "false"])
      try await suite.withSchedulerClient(scheduler) { client in
        let schedules = try await client.listSchedules(.init(), metadata: suite.user).schedules
        #expect(schedules.isEmpty)
      }
      #expect(try await scheduler.stop(timeout: .seconds(30)) == 0)
    }
  }
}
