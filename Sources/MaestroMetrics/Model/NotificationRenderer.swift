import Foundation

/// One alert as it appears in a notification.
struct NotifiedAlert: Sendable, Hashable {
  var id: String
  var fingerprint: String
  /// `firing` or `resolved`.
  var status: String
  var severity: SLODefinition.Severity
  var labels: [String: String]
  var annotations: [String: String]
  var startsAt: Date
  var endsAt: Date?
  var burnRate: Double

  init(id: String, fingerprint: String, status: String, severity: SLODefinition.Severity, labels: [String: String], annotations: [String: String], startsAt: Date, endsAt: Date?, burnRate: Double) {
    self.id = id
    self.fingerprint = fingerprint
    self.status = status
    self.severity = severity
    self.labels = labels
    self.annotations = annotations
    self.startsAt = startsAt
    self.endsAt = endsAt
    self.burnRate = burnRate
  }
}

/// Renders a group of alerts as the body a receiver type expects. Pure: the same input gives
/// the same bytes, so an outbox retry re-sends exactly what was first rendered.
enum NotificationRenderer {
  enum ReceiverType: String, Sendable, Hashable, CaseIterable {
    case webhook
    case slack
    case pagerduty
  }

  /// - Parameters:
  ///   - kind: `firing`, `resolved` or `escalation`.
  static func render(type: ReceiverType, receiver: String, groupKey: String, kind: String, alerts: [NotifiedAlert], externalURL: String) -> [String: Any] {
    switch type {
    case .webhook: return self.webhook(receiver: receiver, groupKey: groupKey, kind: kind, alerts: alerts, externalURL: externalURL)
    case .slack: return self.slack(kind: kind, alerts: alerts)
    case .pagerduty: return self.pagerDuty(kind: kind, groupKey: groupKey, alerts: alerts, externalURL: externalURL)
    }
  }

  static func time(_ date: Date?) -> String {
    date.map { Date.ISO8601FormatStyle(includingFractionalSeconds: true).format($0) } ?? "0001-01-01T00:00:00Z"
  }

  static func groupStatus(_ alerts: [NotifiedAlert]) -> String {
    alerts.contains { $0.status == "firing" } ? "firing" : "resolved"
  }

  static func common(_ maps: [[String: String]]) -> [String: String] {
    guard var common = maps.first else { return [:] }
    for map in maps.dropFirst() { common = common.filter { map[$0.key] == $0.value } }
    return common
  }

  /// The Alertmanager webhook format (version 4), plus `maestroKind` (firing/resolved/escalation).
  static func webhook(receiver: String, groupKey: String, kind: String, alerts: [NotifiedAlert], externalURL: String) -> [String: Any] {
    [
      "version": "4",
      "groupKey": groupKey,
      "truncatedAlerts": 0,
      "status": self.groupStatus(alerts),
      "receiver": receiver,
      "maestroKind": kind,
      "groupLabels": self.common(alerts.map(\.labels)).filter { ["tenant", "slo"].contains($0.key) },
      "commonLabels": self.common(alerts.map(\.labels)),
      "commonAnnotations": self.common(alerts.map(\.annotations)),
      "externalURL": externalURL,
      "alerts": alerts.map { alert in
        [
          "status": alert.status,
          "labels": alert.labels,
          "annotations": alert.annotations,
          "startsAt": self.time(alert.startsAt),
          "endsAt": self.time(alert.endsAt),
          "generatorURL": externalURL,
          "fingerprint": alert.fingerprint,
          "maestroAlertId": alert.id,
          "burnRate": alert.burnRate,
        ] as [String: Any]
      },
    ]
  }

  /// A Slack incoming-webhook message: a headline and one attachment per alert.
  static func slack(kind: String, alerts: [NotifiedAlert]) -> [String: Any] {
    let status = self.groupStatus(alerts)
    let prefix = kind == "escalation" ? "[ESCALATED] " : ""
    let title = "\(prefix)[\(status.uppercased()):\(alerts.count)] \(self.common(alerts.map(\.labels))["slo"] ?? "SLO alerts")"
    return [
      "text": title,
      "attachments": alerts.map { alert in
        [
          "color": alert.status == "resolved" ? "good" : (alert.severity == .critical ? "danger" : "warning"),
          "title": "\(alert.labels["slo"] ?? "") \(alert.labels["window"] ?? "") (\(alert.severity.rawValue))",
          "text": alert.annotations["summary"] ?? "",
          "fields": [
            ["title": "burn rate", "value": String(format: "%.2f", alert.burnRate), "short": true],
            ["title": "tenant", "value": alert.labels["tenant"] ?? "", "short": true],
          ],
        ] as [String: Any]
      },
    ]
  }

  /// A PagerDuty Events API v2 event for the group's most severe alert. `routing_key` is added
  /// at delivery time from the receiver's secret, never stored.
  static func pagerDuty(kind: String, groupKey: String, alerts: [NotifiedAlert], externalURL: String) -> [String: Any] {
    let status = self.groupStatus(alerts)
    let worst = alerts.min { $0.severity < $1.severity }
    let severity: String
    switch worst?.severity {
    case .critical?: severity = "critical"
    case .warning?: severity = "warning"
    default: severity = "info"
    }
    var event: [String: Any] = [
      "event_action": status == "firing" ? "trigger" : "resolve",
      "dedup_key": groupKey,
      "client": "Maestro metrics-service",
      "client_url": externalURL,
    ]
    if status == "firing" {
      event["payload"] = [
        "summary": String((worst?.annotations["summary"] ?? "SLO \(worst?.labels["slo"] ?? "") burn rate alert").prefix(1024)),
        "source": "maestro-metrics-service",
        "severity": severity,
        "component": worst?.labels["slo"] ?? "",
        "group": worst?.labels["tenant"] ?? "",
        "class": kind,
        "custom_details": ["alerts": alerts.map { ["slo": $0.labels["slo"] ?? "", "window": $0.labels["window"] ?? "", "burn_rate": $0.burnRate] as [String: Any] }],
      ] as [String: Any]
    }
    return event
  }
}
