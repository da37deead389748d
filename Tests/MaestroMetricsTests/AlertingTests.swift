import AsyncHTTPClient
import Foundation
import GRPCCore
import Logging
@testable import MaestroMetrics
import MaestroProtos
import MaestroTestSupport
import Testing

@Suite("Burn-rate alerting, routing and the notification outbox (real Postgres, local receivers)")
struct AlertingTests {
  /// 100 good runs spread over the last hour, then `failures` failed runs 2 minutes ago.
  func spike(_ h: MetricsHarness, failures: Int, workflow: String = "hello-world") async throws {
    let now = h.clock.now
    var events = (0..<100).map { MetricsHarness.run(workflow, status: .succeeded, at: now.addingTimeInterval(Double(-$0 * 36))) }
    events += (0..<failures).map { _ in MetricsHarness.run(workflow, status: .failed, at: now.addingTimeInterval(-120)) }
    try await h.record(events)
  }

  func receiver(_ h: MetricsHarness, _ name: String, url: String, severities: [Maestro_Metrics_V1_AlertSeverity] = [], sendResolved: Bool = true,
                escalateAfter: Int64? = nil, escalateTo: String = "", type: Maestro_Metrics_V1_ReceiverType = .webhook, secret: String = "") async throws {
    _ = try await h.client.createReceiver(.with {
      $0.receiver = .with {
        $0.name = name
        $0.type = type
        $0.url = url
        $0.severities = severities
        $0.sendResolved = sendResolved
        $0.secretName = secret
        if let escalateAfter { $0.escalateAfter = .init(seconds: escalateAfter) }
        $0.escalateTo = escalateTo
      }
    }, metadata: try await h.user())
  }

  func dispatcher(_ h: MetricsHarness, secrets: [String: String] = [:]) -> NotificationDispatcher {
    NotificationDispatcher(
      database: h.engine.database, httpClient: HTTPClient.shared, secrets: SecretResolver(directory: nil, environment: secrets),
      interval: .seconds(1), backoffBase: .seconds(1), backoffCap: .seconds(8), requestTimeout: .seconds(5), metrics: nil,
      logger: Logger(label: "test.dispatch"))
  }

  @Test("an error spike fires the page alert within one evaluation, inhibits the warnings, and resolves after recovery")
  func spikeFiresAndResolves() async throws {
    try await TestReceiver.with { hook in
      try await MetricsHarness.with { h in
        try await h.createAvailabilitySLO("hello-availability", workflow: "hello-world")
        try await self.receiver(h, "oncall", url: hook.url)
        try await self.spike(h, failures: 20)
        #expect(try await h.evaluator.evaluateAll(now: h.clock.now) >= 1)
        let open = try await h.alerts("hello-availability")
        let pageFast = try #require(open.first { $0.windowName == "page-fast" })
        #expect(pageFast.state == .firing)
        #expect(pageFast.severity == .critical)
        #expect(pageFast.labels["slo"] == "hello-availability")
        #expect(pageFast.burnRate > 14.4)
        let warnings = open.filter { $0.severity == .warning }
        #expect(!warnings.isEmpty)
        #expect(warnings.allSatisfy { $0.inhibited })
        let status = try await h.client.getSLOStatus(.with { $0.sloName = "hello-availability" }, metadata: try await h.user()).status
        #expect(status.firingAlertIds.contains(pageFast.id))

        // Grouped: one firing notification for the SLO's critical alerts, none for the inhibited warnings.
        var outbox = try await h.outbox()
        #expect(outbox.count == 1)
        #expect(outbox[0].kind == "firing")
        #expect(outbox[0].payload.contains("page-fast") && outbox[0].payload.contains("page-slow"))
        #expect(!outbox[0].payload.contains("ticket-fast"))
        #expect(try await self.dispatcher(h).dispatchDue(now: h.clock.now) == 1)
        #expect(hook.accepted.count == 1)
        let body = try #require(try JSONSerialization.jsonObject(with: Data(hook.accepted[0].utf8)) as? [String: Any])
        #expect(body["status"] as? String == "firing")
        #expect(body["version"] as? String == "4")

        // A second evaluation with the same data changes nothing and sends nothing new.
        try await h.evaluator.evaluateAll(now: h.clock.now)
        #expect(try await h.outbox().count == 1)

        // Recovery: ten minutes on, only successes in the last 5 minutes.
        h.clock.advance(by: 600)
        try await h.record((0..<50).map { MetricsHarness.run("hello-world", status: .succeeded, at: h.clock.now.addingTimeInterval(Double(-$0))) })
        try await h.evaluator.evaluateAll(now: h.clock.now)
        let resolved = try await h.alerts("hello-availability", states: [.resolved])
        #expect(resolved.contains { $0.id == pageFast.id && $0.hasResolvedAt })
        outbox = try await h.outbox()
        #expect(outbox.contains { $0.kind == "resolved" && $0.payload.contains("page-fast") })
      }
    }
  }

  @Test("a silence mutes notifications until it is deleted")
  func silence() async throws {
    try await TestReceiver.with { hook in
      try await MetricsHarness.with { h in
        try await h.createAvailabilitySLO("muted", workflow: "hello-world")
        try await self.receiver(h, "oncall", url: hook.url)
        let silence = try await h.client.createSilence(.with {
          $0.silence = .with {
            $0.matchers = [.with { $0.name = "slo"; $0.value = "muted" }]
            $0.endsAt = .init(date: h.clock.now.addingTimeInterval(3600))
            $0.comment = "maintenance"
          }
        }, metadata: try await h.user()).silence
        #expect(silence.active)
        try await self.spike(h, failures: 20)
        try await h.evaluator.evaluateAll(now: h.clock.now)
        let firing = try await h.alerts("muted").filter { $0.state == .firing }
        #expect(!firing.isEmpty)
        #expect(firing.allSatisfy { $0.silencedBy == [silence.id] })
        #expect(try await h.outbox().isEmpty)
        _ = try await h.client.deleteSilence(.with { $0.silenceID = silence.id }, metadata: try await h.user())
        try await h.evaluator.evaluateAll(now: h.clock.now)
        let outbox = try await h.outbox()
        #expect(outbox.count == 1)
        #expect(outbox.first?.kind == "firing")
      }
    }
  }

  @Test("an unacknowledged critical alert escalates to the next receiver; acknowledging stops it")
  func escalation() async throws {
    try await TestReceiver.with { hook in
      try await MetricsHarness.with { h in
        try await h.createAvailabilitySLO("escalating", workflow: "hello-world")
        try await self.receiver(h, "manager", url: hook.url, severities: [.info])
        try await self.receiver(h, "oncall", url: hook.url, severities: [.critical], escalateAfter: 300, escalateTo: "manager")
        try await self.spike(h, failures: 40)
        try await h.evaluator.evaluateAll(now: h.clock.now)
        #expect(try await h.outbox().map(\.receiver) == ["oncall"])
        // Four minutes on: not yet.
        h.clock.advance(by: 240)
        try await h.record((0..<10).map { _ in MetricsHarness.run("hello-world", status: .failed, at: h.clock.now.addingTimeInterval(-30)) })
        try await h.evaluator.evaluateAll(now: h.clock.now)
        #expect(try await h.outbox().count == 1)
        // Six minutes after firing: escalated to the manager.
        h.clock.advance(by: 120)
        try await h.record((0..<10).map { _ in MetricsHarness.run("hello-world", status: .failed, at: h.clock.now.addingTimeInterval(-30)) })
        try await h.evaluator.evaluateAll(now: h.clock.now)
        let escalations = try await h.outbox().filter { $0.kind == "escalation" }
        #expect(!escalations.isEmpty)
        #expect(escalations.allSatisfy { $0.receiver == "manager" })
        let escalated = try await h.alerts("escalating").filter { $0.escalationLevel == 1 }
        #expect(!escalated.isEmpty)
        #expect(escalated.allSatisfy { $0.currentReceiver == "manager" })
        // Acknowledged: no further escalation however long it fires.
        for alert in escalated {
          let acked = try await h.client.acknowledgeAlert(.with { $0.alertID = alert.id; $0.comment = "on it" }, metadata: try await h.user()).alert
          #expect(acked.acknowledged)
          #expect(acked.acknowledgedBy == "alice")
          #expect(acked.acknowledgeComment == "on it")
        }
        let before = escalations.count
        h.clock.advance(by: 600)
        try await h.record((0..<10).map { _ in MetricsHarness.run("hello-world", status: .failed, at: h.clock.now.addingTimeInterval(-30)) })
        try await h.evaluator.evaluateAll(now: h.clock.now)
        #expect(try await h.outbox().filter { $0.kind == "escalation" }.count == before)
      }
    }
  }

  @Test("a receiver that fails then recovers gets every notification: the outbox retries with backoff")
  func outboxRetry() async throws {
    try await TestReceiver.with(failures: 2) { hook in
      try await MetricsHarness.with { h in
        try await h.createAvailabilitySLO("flaky", workflow: "hello-world")
        try await self.receiver(h, "slack", url: hook.url, type: .slack, secret: "")
        try await self.spike(h, failures: 20)
        try await h.evaluator.evaluateAll(now: h.clock.now)
        let dispatcher = self.dispatcher(h)
        #expect(try await dispatcher.dispatchDue(now: h.clock.now) == 1)
        #expect(hook.attempts == 1)
        // Not due again until the backoff (1 s) passes.
        #expect(try await dispatcher.dispatchDue(now: h.clock.now) == 0)
        #expect(try await dispatcher.dispatchDue(now: h.clock.now.addingTimeInterval(1.5)) == 1)
        #expect(hook.attempts == 2)
        // Second backoff is 2 s.
        #expect(try await dispatcher.dispatchDue(now: h.clock.now.addingTimeInterval(2.5)) == 0)
        #expect(try await dispatcher.dispatchDue(now: h.clock.now.addingTimeInterval(4)) == 1)
        #expect(hook.attempts == 3)
        #expect(hook.accepted.count == 1)
        let outbox = try await h.outbox()
        #expect(outbox.count == 1)
        #expect(outbox[0].delivered)
        #expect(outbox[0].attempts == 3)
        let slack = try #require(try JSONSerialization.jsonObject(with: Data(hook.accepted[0].utf8)) as? [String: Any])
        #expect((slack["text"] as? String)?.contains("FIRING") == true)
        #expect((slack["attachments"] as? [Any])?.isEmpty == false)
      }
    }
  }

  @Test("PagerDuty Events v2: the routing key is added at delivery, never stored; webhooks are HMAC-signed")
  func pagerDutyAndSignature() async throws {
    try await TestReceiver.with { hook in
      try await MetricsHarness.with { h in
        try await h.createAvailabilitySLO("paged", workflow: "hello-world")
        try await self.receiver(h, "pd", url: hook.url, severities: [.critical], type: .pagerduty, secret: "pd-key")
        try await self.receiver(h, "signed", url: hook.url, severities: [.critical], secret: "hmac-key")
        try await self.spike(h, failures: 20)
        try await h.evaluator.evaluateAll(now: h.clock.now)
        let outbox = try await h.outbox()
        #expect(outbox.count == 2)
        #expect(!outbox.contains { $0.payload.contains("routing-key-value") })
        try await self.dispatcher(h, secrets: ["MAESTRO_METRICS_SECRET_PD_KEY": "routing-key-value", "MAESTRO_METRICS_SECRET_HMAC_KEY": "k"]).dispatchDue(now: h.clock.now)
        #expect(hook.accepted.count == 2)
        let pd = try #require(hook.accepted.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }.first { $0["event_action"] != nil })
        #expect(pd["routing_key"] as? String == "routing-key-value")
        #expect(pd["event_action"] as? String == "trigger")
        #expect((pd["payload"] as? [String: Any])?["severity"] as? String == "critical")
        #expect(hook.headers.contains { $0["X-Maestro-Signature"]?.hasPrefix("sha256=") == true || $0["x-maestro-signature"]?.hasPrefix("sha256=") == true })
      }
    }
  }
}
