import Foundation
import Logging
import MaestroCore
import PostgresNIO

/// SQL of the `alerts` table.
enum AlertQueries {
  /// Columns of `alerts a`.
  static let columns = """
    a.id, a.fingerprint, a.rule, a.severity, a.state, a.labels::text, a.annotations::text, a.pending_since, a.fired_at, a.resolved_at,
    a.last_notified_at, a.acknowledged_at IS NOT NULL, a.escalation_level, a.escalated_at, a.suppressed, a.silence_id,
    coalesce((a.observed->>'burn_rate')::float8, 0)
    """

  static func decode(_ row: PostgresRow) throws -> AlertEvaluator.AlertRow {
    var cells = row.makeIterator()
    func next<T: PostgresDecodable>(_: T.Type) throws -> T { try cells.next()!.decode(T.self) }
    let id = try next(UUID.self)
    let fingerprint = try next(String.self)
    let rule = try next(String.self)
    let severity = SLODefinition.Severity(rawValue: try next(String.self)) ?? .info
    let state = AlertLifecycle.State(rawValue: try next(String.self)) ?? .resolved
    let labels = Self.map(try next(String.self))
    let annotations = Self.map(try next(String.self))
    return AlertEvaluator.AlertRow(
      id: id, fingerprint: fingerprint, rule: rule, severity: severity, state: state, labels: labels, annotations: annotations,
      pendingSince: try next(Date.self), firedAt: try next(Date?.self), resolvedAt: try next(Date?.self), lastNotifiedAt: try next(Date?.self),
      acknowledged: try next(Bool.self), escalationLevel: try next(Int.self), escalatedAt: try next(Date?.self), suppressed: try next(String?.self),
      silenceID: try next(UUID?.self), burnRate: try next(Double.self)
    )
  }

  static func map(_ json: String) -> [String: String] {
    ((try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] ?? [:]).compactMapValues { $0 as? String }
  }

  static func open(tenant: String, sloID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> [String: AlertEvaluator.AlertRow] {
    let rows = try await connection.query(
      "SELECT \(unescaped: Self.columns) FROM alerts a WHERE a.tenant = \(tenant) AND a.slo_id = \(sloID) AND a.state <> 'resolved' FOR UPDATE", logger: logger
    ).collect()
    var result: [String: AlertEvaluator.AlertRow] = [:]
    for row in rows {
      let alert = try Self.decode(row)
      result[alert.fingerprint] = alert
    }
    return result
  }

  static func insert(
    tenant: String, sloID: UUID, fingerprint: String, rule: String, severity: SLODefinition.Severity, firing: Bool, labels: [String: String],
    annotations: [String: String], burnRate: Double, now: Date, on connection: PostgresConnection, logger: Logger
  ) async throws -> UUID {
    let observed = "{\"burn_rate\": \(burnRate.isFinite ? burnRate : 0)}"
    let rows = try await connection.query(
      """
      INSERT INTO alerts (tenant, fingerprint, slo_id, rule, group_key, severity, state, labels, annotations, observed, pending_since, fired_at, last_evaluated_at)
      VALUES (\(tenant), \(fingerprint), \(sloID), \(rule), \(tenant + "/" + (labels["slo"] ?? "")), \(severity.rawValue), \(firing ? "firing" : "pending"),
              \(JSONValueText.object(labels))::jsonb, \(JSONValueText.object(annotations))::jsonb, \(observed)::jsonb, \(now), \(firing ? now : nil), \(now))
      RETURNING id
      """,
      logger: logger
    ).collect()
    return try rows.first!.decode(UUID.self)
  }

  static func updateState(_ alert: AlertEvaluator.AlertRow, now: Date, on connection: PostgresConnection, logger: Logger) async throws {
    let observed = "{\"burn_rate\": \(alert.burnRate.isFinite ? alert.burnRate : 0)}"
    let resolved = alert.state == .resolved
    _ = try await connection.query(
      """
      UPDATE alerts SET state = \(alert.state.rawValue), fired_at = \(alert.firedAt), resolved_at = \(alert.resolvedAt), last_evaluated_at = \(now),
        observed = \(observed)::jsonb, annotations = \(JSONValueText.object(alert.annotations))::jsonb,
        suppressed = CASE WHEN \(resolved) THEN NULL ELSE suppressed END, silence_id = CASE WHEN \(resolved) THEN NULL ELSE silence_id END
      WHERE id = \(alert.id)
      """,
      logger: logger
    ).collect()
  }

  static func updateSuppression(_ alert: AlertEvaluator.AlertRow, on connection: PostgresConnection, logger: Logger) async throws {
    _ = try await connection.query(
      "UPDATE alerts SET suppressed = \(alert.suppressed), silence_id = \(alert.silenceID) WHERE id = \(alert.id)", logger: logger
    ).collect()
  }
}
