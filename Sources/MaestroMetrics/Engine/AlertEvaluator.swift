import Foundation
import Logging
import MaestroCore
import MaestroKit
import PostgresNIO
import ServiceLifecycle

/// Evaluates every enabled SLO's burn-rate rules periodically and drives the alert lifecycle:
/// PENDING → FIRING → RESOLVED per fingerprint, inhibition (a firing critical alert of an SLO
/// suppresses its warnings), silences, escalation of unacknowledged critical alerts, and the
/// grouped notifications written to the outbox in the same transaction as the transitions.
///
/// Replicas may run side by side: each SLO is evaluated under a row lock taken with SKIP LOCKED.
struct AlertEvaluator: Service {
  let slos: SLOStore
  let statuses: SLOStatusEngine
  let receivers: ReceiverStore
  let database: Database
  let metrics: SLOStatusMetrics?
  let interval: Duration
  let externalURL: String
  let logger: Logger

  func run() async throws {
    while !Task.isCancelled && !Task.isShuttingDownGracefully {
      do {
        try await self.evaluateAll(now: Date())
      } catch {
        self.logger.error("alert evaluation failed", metadata: ["error": "\(error)"])
      }
      try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
    }
  }

  /// One evaluation of every enabled SLO at `now`. Returns how many SLOs were evaluated.
  @discardableResult
  func evaluateAll(now: Date) async throws -> Int {
    let all = try await self.slos.allEnabled()
    var silencesByTenant: [String: [SilenceRecord]] = [:]
    var receiversByTenant: [String: [ReceiverRecord]] = [:]
    var evaluated = 0
    for slo in all {
      if silencesByTenant[slo.tenant] == nil {
        silencesByTenant[slo.tenant] = try await self.receivers.silences(tenant: slo.tenant, now: now, includeExpired: false, before: nil, limit: 1000)
          .filter { $0.isActive(at: now) }
        receiversByTenant[slo.tenant] = try await self.receivers.receivers(tenant: slo.tenant)
      }
      do {
        let status = try await self.statuses.status(of: slo.definition, tenant: slo.tenant, now: now)
        self.metrics?.update(tenant: slo.tenant, slo: slo.definition, status: status)
        try await self.evaluate(slo, status: status, silences: silencesByTenant[slo.tenant]!, receivers: receiversByTenant[slo.tenant]!, now: now)
        evaluated += 1
      } catch {
        self.logger.error("evaluating an SLO failed", metadata: ["tenant": "\(slo.tenant)", "slo": "\(slo.definition.name)", "error": "\(error)"])
      }
    }
    return evaluated
  }

  struct AlertRow {
    var id: UUID
    var fingerprint: String
    var rule: String
    var severity: SLODefinition.Severity
    var state: AlertLifecycle.State
    var labels: [String: String]
    var annotations: [String: String]
    var pendingSince: Date
    var firedAt: Date?
    var resolvedAt: Date?
    var lastNotifiedAt: Date?
    var acknowledged: Bool
    var escalationLevel: Int
    var escalatedAt: Date?
    var suppressed: String?
    var silenceID: UUID?
    var burnRate: Double
    var resolvedNow = false
  }

  func evaluate(_ stored: SLOStore.Stored, status: SLOStatusSnapshot, silences: [SilenceRecord], receivers: [ReceiverRecord], now: Date) async throws {
    let slo = stored.definition
    let tenant = stored.tenant
    try await self.database.withTransaction { connection in
      let locked = try await connection.query("SELECT 1 FROM slos WHERE tenant = \(tenant) AND id = \(stored.id) FOR UPDATE SKIP LOCKED", logger: self.logger).collect()
      guard !locked.isEmpty else { return }
      var open = try await AlertQueries.open(tenant: tenant, sloID: stored.id, on: connection, logger: self.logger)
      var touched: [AlertRow] = []
      let rules = slo.alerting.disabled ? [] : slo.alerting.effectiveRules
      for rule in rules {
        var labels = slo.alerting.labels
        labels["tenant"] = tenant
        labels["slo"] = slo.name
        labels["severity"] = rule.severity.rawValue
        labels["window"] = rule.name
        let fingerprint = Fingerprint.of(labels)
        let longRate = status.burnRate(rule.longWindow)
        let condition = longRate > rule.burnRate && status.burnRate(rule.shortWindow) > rule.burnRate
        let existing = open.removeValue(forKey: fingerprint)
        let transition = AlertLifecycle.next(
          active: existing.map { AlertLifecycle.Active(state: $0.state, pendingSince: $0.pendingSince) }, condition: condition, forDuration: rule.forDuration, now: now)
        var annotations = slo.alerting.annotations
        annotations["summary"] = annotations["summary"] ?? "SLO \(slo.name) is burning its error budget faster than \(rule.burnRate)x"
        annotations["description"] = String(
          format: "Burn rate %.2f over %@ and %.2f over %@ (threshold %.1f); SLI %.5f, objective %.5f.", longRate, PrometheusRules.promDuration(rule.longWindow),
          status.burnRate(rule.shortWindow), PrometheusRules.promDuration(rule.shortWindow), rule.burnRate, status.budget.sli, slo.objective)
        switch transition {
        case .openPending, .openFiring:
          let firing = transition == .openFiring
          let id = try await AlertQueries.insert(
            tenant: tenant, sloID: stored.id, fingerprint: fingerprint, rule: rule.name, severity: rule.severity, firing: firing,
            labels: labels, annotations: annotations, burnRate: longRate, now: now, on: connection, logger: self.logger)
          touched.append(AlertRow(
            id: id, fingerprint: fingerprint, rule: rule.name, severity: rule.severity, state: firing ? .firing : .pending, labels: labels,
            annotations: annotations, pendingSince: now, firedAt: firing ? now : nil, acknowledged: false, escalationLevel: 0, burnRate: longRate))
        case .fire, .cancelPending, .resolve, .none:
          guard var alert = existing else { continue }
          alert.burnRate = longRate
          alert.annotations = annotations
          switch transition {
          case .fire:
            alert.state = .firing
            alert.firedAt = now
          case .cancelPending, .resolve:
            alert.state = .resolved
            alert.resolvedAt = now
            alert.resolvedNow = true
          default: break
          }
          try await AlertQueries.updateState(alert, now: now, on: connection, logger: self.logger)
          touched.append(alert)
        }
      }
      // Open alerts of rules that no longer exist resolve.
      for var alert in open.values {
        alert.state = .resolved
        alert.resolvedAt = now
        alert.resolvedNow = true
        try await AlertQueries.updateState(alert, now: now, on: connection, logger: self.logger)
        touched.append(alert)
      }
      try await self.suppressAndNotify(&touched, tenant: tenant, slo: slo, silences: silences, receivers: receivers, now: now, on: connection)
    }
  }

  /// Inhibition and silences, then the notifications (grouped per receiver) and escalations.
  func suppressAndNotify(
    _ alerts: inout [AlertRow], tenant: String, slo: SLODefinition, silences: [SilenceRecord], receivers: [ReceiverRecord], now: Date, on connection: PostgresConnection
  ) async throws {
    let criticalFiring = alerts.contains { $0.severity == .critical && $0.state == .firing }
    for index in alerts.indices where alerts[index].state != .resolved {
      let silence = silences.first { LabelMatcher.all($0.matchers, match: alerts[index].labels) }
      let inhibited = criticalFiring && alerts[index].severity != .critical
      let suppressed = silence != nil ? "silenced" : (inhibited ? "inhibited" : nil)
      if suppressed != alerts[index].suppressed || silence?.id != alerts[index].silenceID {
        alerts[index].suppressed = suppressed
        alerts[index].silenceID = silence?.id
        try await AlertQueries.updateSuppression(alerts[index], on: connection, logger: self.logger)
      }
    }
    let groupKey = "\(tenant)/\(slo.name)"
    let firing = alerts.indices.filter { alerts[$0].state == .firing && alerts[$0].suppressed == nil && alerts[$0].lastNotifiedAt == nil }
    let resolved = alerts.indices.filter { alerts[$0].resolvedNow && alerts[$0].lastNotifiedAt != nil }
    for receiver in receivers {
      let firingHere = firing.filter { receiver.routes(severity: alerts[$0].severity, labels: alerts[$0].labels) }.map { alerts[$0] }
      if !firingHere.isEmpty {
        try await self.enqueue(receiver: receiver, kind: "firing", groupKey: groupKey, alerts: firingHere, dedupe: "firing:" + firingHere.map { $0.id.uuidString.lowercased() }.sorted().joined(separator: ","), now: now, on: connection)
      }
      let resolvedHere = resolved.filter { receiver.sendResolved && receiver.routes(severity: alerts[$0].severity, labels: alerts[$0].labels) }.map { alerts[$0] }
      if !resolvedHere.isEmpty {
        try await self.enqueue(receiver: receiver, kind: "resolved", groupKey: groupKey, alerts: resolvedHere, dedupe: "resolved:" + resolvedHere.map { $0.id.uuidString.lowercased() }.sorted().joined(separator: ","), now: now, on: connection)
      }
    }
    for index in firing {
      alerts[index].lastNotifiedAt = now
      _ = try await connection.query("UPDATE alerts SET last_notified_at = \(now) WHERE tenant = \(tenant) AND id = \(alerts[index].id)", logger: self.logger).collect()
    }
    // Escalation: an unacknowledged critical alert moves one receiver along the chain each time
    // the current receiver's escalate_after passes.
    let byID = Dictionary(receivers.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    for index in alerts.indices {
      let alert = alerts[index]
      guard alert.state == .firing, alert.severity == .critical, !alert.acknowledged, alert.suppressed == nil, alert.lastNotifiedAt != nil,
        let current = Self.currentReceiver(alert, receivers: receivers, byID: byID),
        let after = current.escalateAfter, let nextID = current.nextReceiverID, let next = byID[nextID],
        now.timeIntervalSince(alert.escalatedAt ?? alert.firedAt ?? now) >= after.seconds
      else { continue }
      alerts[index].escalationLevel += 1
      alerts[index].escalatedAt = now
      _ = try await connection.query(
        "UPDATE alerts SET escalation_level = \(alerts[index].escalationLevel), escalated_at = \(now) WHERE tenant = \(tenant) AND id = \(alert.id)", logger: self.logger
      ).collect()
      try await self.enqueue(receiver: next, kind: "escalation", groupKey: groupKey, alerts: [alerts[index]], dedupe: "escalation:\(alert.id.uuidString.lowercased()):\(alerts[index].escalationLevel)", now: now, on: connection)
      self.logger.notice("alert escalated", metadata: ["tenant": "\(tenant)", "slo": "\(slo.name)", "alert_id": "\(alert.id)", "receiver": "\(next.name)"])
    }
  }

  /// The receiver an alert's escalation stands at: the first (by name) routing receiver with an
  /// escalation target, followed `escalationLevel` steps along the chain.
  static func currentReceiver(_ alert: AlertRow, receivers: [ReceiverRecord], byID: [UUID: ReceiverRecord]) -> ReceiverRecord? {
    let routed = receivers.filter { $0.routes(severity: alert.severity, labels: alert.labels) }
    guard var current = routed.first(where: { $0.nextReceiverID != nil && $0.escalateAfter != nil }) ?? routed.first else { return nil }
    for _ in 0..<alert.escalationLevel {
      guard let next = current.nextReceiverID.flatMap({ byID[$0] }) else { break }
      current = next
    }
    return current
  }

  func enqueue(receiver: ReceiverRecord, kind: String, groupKey: String, alerts: [AlertRow], dedupe: String, now: Date, on connection: PostgresConnection) async throws {
    let notified = alerts.map {
      NotifiedAlert(
        id: $0.id.uuidString.lowercased(), fingerprint: $0.fingerprint, status: $0.state == .resolved ? "resolved" : "firing", severity: $0.severity,
        labels: $0.labels, annotations: $0.annotations, startsAt: $0.firedAt ?? $0.pendingSince, endsAt: $0.resolvedAt, burnRate: $0.burnRate)
    }
    let payload = NotificationRenderer.render(type: receiver.type, receiver: receiver.name, groupKey: groupKey, kind: kind, alerts: notified, externalURL: self.externalURL)
    let text = String(decoding: try JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys]), as: UTF8.self)
    let key = dedupe.count > 512 ? "\(kind):" + Fingerprint.of(["ids": dedupe]) : dedupe
    _ = try await connection.query(
      """
      INSERT INTO notification_outbox (tenant, receiver_id, alert_id, kind, dedupe_key, payload, next_attempt_at)
      VALUES (\(receiver.tenant), \(receiver.id), \(alerts[0].id), \(kind), \(key), \(text)::jsonb, \(now))
      ON CONFLICT (tenant, receiver_id, dedupe_key) DO NOTHING
      """,
      logger: self.logger
    ).collect()
  }
}
