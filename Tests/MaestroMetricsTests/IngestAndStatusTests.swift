import Foundation
import GRPCCore
@testable import MaestroMetrics
import MaestroProtos
import MaestroTestSupport
import Testing

@Suite("Ingest, SLO status and workflow stats (real Postgres)")
struct IngestAndStatusTests {
  @Test("recorded runs show up in the SLO status and the per-workflow stats")
  func statusAndStats() async throws {
    try await MetricsHarness.with { h in
      try await h.createAvailabilitySLO("hello-availability", workflow: "hello-world", objective: 99)
      let now = h.clock.now
      var events: [Maestro_Metrics_V1_OutcomeEvent] = []
      for minute in 0..<60 {
        let at = now.addingTimeInterval(Double(-minute * 60))
        // 10 runs a minute; one failure every 4th minute: 15 of 600 fail (2.5 %).
        for index in 0..<10 {
          let failed = minute % 4 == 0 && index == 0
          events.append(MetricsHarness.run("hello-world", status: failed ? .failed : .succeeded, seconds: Double(1 + index), slaMet: true, at: at))
        }
      }
      events.append(MetricsHarness.run("other", status: .failed, at: now))
      try await h.record(events)
      let status = try await h.client.getSLOStatus(.with { $0.sloName = "hello-availability" }, metadata: try await h.user()).status
      #expect(status.totalEvents == 600)
      #expect(status.goodEvents == 585)
      #expect(abs(status.sli - 0.975) < 1e-9)
      #expect(abs(status.errorBudgetConsumed - 2.5) < 1e-9)
      #expect(status.errorBudgetRemaining < 0)
      #expect(!status.withinObjective)
      #expect(status.errorBudgetRemainingEvents == -9)
      // 1 h window: 2.5 % errors / 1 % allowed.
      let hour = try #require(status.burnRates.first { $0.window.seconds == 3600 })
      #expect(abs(hour.burnRate - 2.5) < 1e-9)

      let stats = try await h.client.getWorkflowStats(.with { $0.workflow = "hello-world" }, metadata: try await h.user()).stats
      #expect(stats.count == 600)
      #expect(stats.succeeded == 585)
      #expect(stats.failed == 15)
      #expect(abs(stats.successRate - 0.975) < 1e-9)
      #expect(stats.slaMetRate == 1)
      // Durations 1..10 s, evenly: p50 in (2.5 s, 5 s], p99 in (5 s, 10 s].
      #expect(stats.p50.seconds >= 2 && stats.p50.seconds <= 5)
      #expect(stats.p99.seconds >= 5 && stats.p99.seconds <= 10)
    }
  }

  @Test("a retried batch id is counted once; invalid events are rejected one by one")
  func idempotencyAndRejections() async throws {
    try await MetricsHarness.with { h in
      let metadata = try await h.serviceAccount(tenant: "acme", roles: ["admin"])
      let now = h.clock.now
      let request = Maestro_Metrics_V1_RecordEventsRequest.with {
        $0.batchID = "batch-1"
        $0.events = [
          MetricsHarness.run("w", tenant: "acme", status: .succeeded, at: now),
          MetricsHarness.run("w", tenant: "other", status: .succeeded, at: now),
          .with { $0.kind = .run; $0.tenant = "acme"; $0.status = .succeeded },
          MetricsHarness.run("w", tenant: "acme", status: .succeeded, at: now.addingTimeInterval(-8 * 86_400)),
        ]
      }
      let first = try await h.client.recordEvents(request, metadata: metadata)
      #expect(first.accepted == 1)
      #expect(first.rejected == 3)
      #expect(first.rejections.map(\.index) == [1, 2, 3])
      #expect(first.rejections[0].reason.hasPrefix("tenant:"))
      #expect(first.rejections[1].reason.hasPrefix("workflow:"))
      #expect(first.rejections[2].reason.hasPrefix("occurred_at:"))
      let again = try await h.client.recordEvents(request, metadata: metadata)
      #expect(again.duplicate)
      #expect(again.accepted == 0)
      let total = try await h.engine.database.client.query("SELECT sum(total)::bigint FROM series_minute").collect()
      #expect(try total.first?.decode(Int64.self) == 1)
    }
  }

  @Test("RecordEvents is for service accounts only; other RPCs are tenant-scoped")
  func authorization() async throws {
    try await MetricsHarness.with { h in
      await #expect(throws: RPCError.self) {
        _ = try await h.client.recordEvents(.with { $0.events = [] }, metadata: try await h.user(roles: ["admin"]))
      }
      try await h.createAvailabilitySLO("mine", workflow: "w")
      await #expect {
        _ = try await h.client.getSLO(.with { $0.name = "mine" }, metadata: try await h.user(tenant: "acme"))
      } throws: { ($0 as? RPCError)?.code == .notFound }
      await #expect {
        _ = try await h.client.createSLO(.with { $0.slo = .with { $0.name = "x" } }, metadata: try await h.user())
      } throws: { ($0 as? RPCError)?.code == .invalidArgument }
    }
  }

  @Test("status reads the same before and after the hourly rollup, and retention keeps unrolled minutes")
  func rollup() async throws {
    try await MetricsHarness.with { h in
      try await h.createAvailabilitySLO("roll", workflow: "w", objective: 99)
      let now = h.clock.now
      var events: [Maestro_Metrics_V1_OutcomeEvent] = []
      for minute in stride(from: 0, to: 3 * 24 * 60, by: 7) {
        events.append(MetricsHarness.run("w", status: minute % 5 == 0 ? .failed : .succeeded, at: now.addingTimeInterval(Double(-minute * 60))))
      }
      try await h.record(events)
      let slo = try #require(try await h.engine.slos.get(tenant: "default", name: "roll"))
      let before = try await h.engine.statuses.status(of: slo.definition, tenant: "default", now: now)
      let hours = try await h.engine.aggregates.rollup(now: now).hours
      #expect(hours >= 70)
      let after = try await h.engine.statuses.status(of: slo.definition, tenant: "default", now: now)
      #expect(before.budget.total == Int64(events.count))
      #expect(after.budget.total == before.budget.total)
      #expect(after.budget.good == before.budget.good)
      for (a, b) in zip(before.burnRates, after.burnRates) { #expect(abs(a.rate - b.rate) < 1e-9, "window \(a.window)") }
      // A late event for an hour already rolled up is added to that hour too.
      try await h.record([MetricsHarness.run("w", status: .failed, at: now.addingTimeInterval(-2 * 86_400))])
      let late = try await h.engine.statuses.status(of: slo.definition, tenant: "default", now: now)
      #expect(late.budget.total == before.budget.total + 1)
      #expect(try await h.engine.aggregates.rollup(now: now) == .init(hours: 0, days: 0))
    }
  }
}
