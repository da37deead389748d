import Foundation
import Logging
import MaestroCore
import MaestroKit
import PostgresNIO

/// A notification receiver as the evaluator and dispatcher use it.
struct ReceiverRecord: Sendable, Hashable {
  var id: UUID
  var tenant: String
  var name: String
  var type: NotificationRenderer.ReceiverType
  var url: String
  var secretRef: String?
  /// Empty = all severities.
  var severities: [SLODefinition.Severity]
  var matchers: [LabelMatcher]
  var sendResolved: Bool
  var escalateAfter: Duration?
  var nextReceiverID: UUID?
  var createdAt: Date

  func routes(severity: SLODefinition.Severity, labels: [String: String]) -> Bool {
    (self.severities.isEmpty || self.severities.contains(severity)) && LabelMatcher.all(self.matchers, match: labels)
  }
}

/// An active or expired silence.
struct SilenceRecord: Sendable, Hashable {
  var id: UUID
  var matchers: [LabelMatcher]
  var startsAt: Date
  var endsAt: Date
  var comment: String
  var createdBy: String
  var createdAt: Date

  func isActive(at now: Date) -> Bool { self.startsAt <= now && now < self.endsAt }
}

/// The `receivers` and `silences` tables.
struct ReceiverStore: Sendable {
  let database: Database
  let logger: Logger

  static let receiverColumns = "id, tenant, name, type, url, secret_ref, routing::text, extract(epoch FROM escalate_after)::float8, next_receiver_id, created_at"

  static func decodeReceiver(_ row: PostgresRow) throws -> ReceiverRecord {
    let (id, tenant, name, type, url, secret, routing, escalate, next, created) =
      try row.decode((UUID, String, String, String, String, String?, String, Double?, UUID?, Date).self)
    let object = (try? JSONSerialization.jsonObject(with: Data(routing.utf8))) as? [String: Any] ?? [:]
    return ReceiverRecord(
      id: id, tenant: tenant, name: name, type: NotificationRenderer.ReceiverType(rawValue: type) ?? .webhook, url: url, secretRef: secret,
      severities: (object["severities"] as? [String] ?? []).compactMap(SLODefinition.Severity.init(rawValue:)),
      matchers: Self.matchers(object["matchers"]), sendResolved: object["send_resolved"] as? Bool ?? false,
      escalateAfter: escalate.map { .milliseconds(Int64($0 * 1000)) }, nextReceiverID: next, createdAt: created
    )
  }

  static func matchers(_ value: Any?) -> [LabelMatcher] {
    (value as? [[String: Any]] ?? []).compactMap { entry in
      guard let name = entry["name"] as? String, let op = LabelMatcher.Operator(rawValue: entry["op"] as? String ?? "=") else { return nil }
      return try? LabelMatcher(name: name, op: op, value: entry["value"] as? String ?? "")
    }
  }

  static func matchersJSON(_ matchers: [LabelMatcher]) -> String {
    let array = matchers.map { ["name": $0.name, "op": $0.op.rawValue, "value": $0.value] }
    return String(decoding: try! JSONSerialization.data(withJSONObject: array, options: [.sortedKeys]), as: UTF8.self)
  }

  func createReceiver(
    tenant: String, name: String, type: NotificationRenderer.ReceiverType, url: String, secretRef: String?,
    severities: [SLODefinition.Severity], matchers: [LabelMatcher], sendResolved: Bool, escalateAfter: Duration?, escalateTo: String?
  ) async throws -> ReceiverRecord {
    let routing: [String: Any] = [
      "severities": severities.map(\.rawValue),
      "matchers": (try? JSONSerialization.jsonObject(with: Data(Self.matchersJSON(matchers).utf8))) ?? [],
      "send_resolved": sendResolved,
    ]
    let routingText = String(decoding: try JSONSerialization.data(withJSONObject: routing, options: [.sortedKeys]), as: UTF8.self)
    return try await self.database.withTransaction { connection in
      var next: UUID?
      if let escalateTo, !escalateTo.isEmpty {
        let rows = try await connection.query("SELECT id FROM receivers WHERE tenant = \(tenant) AND name = \(escalateTo)", logger: self.logger).collect()
        guard let row = rows.first else { throw MaestroError.invalidArgument(field: "receiver.escalate_to", "no receiver named '\(escalateTo.prefix(128))'") }
        next = try row.decode(UUID.self)
      }
      let rows = try await connection.query(
        """
        INSERT INTO receivers (tenant, name, type, url, secret_ref, routing, escalate_after, next_receiver_id)
        VALUES (\(tenant), \(name), \(type.rawValue), \(url), \(secretRef), \(routingText)::jsonb,
                CASE WHEN \(escalateAfter?.seconds)::float8 IS NULL THEN NULL ELSE make_interval(secs => \(escalateAfter?.seconds)::float8) END, \(next))
        ON CONFLICT (tenant, name) DO NOTHING
        RETURNING \(unescaped: Self.receiverColumns)
        """,
        logger: self.logger
      ).collect()
      guard let row = rows.first else { throw MaestroError(.alreadyExists, "receiver '\(name)' already exists") }
      return try Self.decodeReceiver(row)
    }
  }

  func receivers(tenant: String, after: String = "", limit: Int = 1000) async throws -> [ReceiverRecord] {
    let rows = try await self.database.client.query(
      "SELECT \(unescaped: Self.receiverColumns) FROM receivers WHERE tenant = \(tenant) AND enabled AND name > \(after) ORDER BY name LIMIT \(limit)",
      logger: self.logger
    ).collect()
    return try rows.map(Self.decodeReceiver)
  }

  func deleteReceiver(tenant: String, name: String) async throws {
    try await self.database.withTransaction { connection in
      let referenced = try await connection.query(
        """
        SELECT r.name FROM receivers r JOIN receivers t ON t.tenant = r.tenant AND t.id = r.next_receiver_id
        WHERE r.tenant = \(tenant) AND t.name = \(name) LIMIT 1
        """,
        logger: self.logger
      ).collect()
      if let row = referenced.first {
        throw MaestroError.failedPrecondition("receiver '\(name)' is the escalation target of '\(try row.decode(String.self))'")
      }
      let deleted = try await connection.query("DELETE FROM receivers WHERE tenant = \(tenant) AND name = \(name) RETURNING 1", logger: self.logger).collect()
      guard !deleted.isEmpty else { throw MaestroError.notFound("receiver '\(name)' not found") }
    }
  }

  // MARK: Silences

  static let silenceColumns = "id, matchers::text, starts_at, ends_at, comment, created_by, created_at"

  static func decodeSilence(_ row: PostgresRow) throws -> SilenceRecord {
    let (id, matchers, starts, ends, comment, by, created) = try row.decode((UUID, String, Date, Date, String, String, Date).self)
    let parsed = Self.matchers((try? JSONSerialization.jsonObject(with: Data(matchers.utf8))))
    return SilenceRecord(id: id, matchers: parsed, startsAt: starts, endsAt: ends, comment: comment, createdBy: by, createdAt: created)
  }

  func createSilence(tenant: String, matchers: [LabelMatcher], startsAt: Date, endsAt: Date, comment: String, createdBy: String) async throws -> SilenceRecord {
    let rows = try await self.database.client.query(
      """
      INSERT INTO silences (tenant, matchers, starts_at, ends_at, comment, created_by)
      VALUES (\(tenant), \(Self.matchersJSON(matchers))::jsonb, \(startsAt), \(endsAt), \(comment), \(createdBy))
      RETURNING \(unescaped: Self.silenceColumns)
      """,
      logger: self.logger
    ).collect()
    return try Self.decodeSilence(rows.first!)
  }

  /// Active silences (or all, newest first) after the cursor `(created_at, id)`.
  func silences(tenant: String, now: Date, includeExpired: Bool, before: (Date, UUID)?, limit: Int) async throws -> [SilenceRecord] {
    let cursorTime = before?.0 ?? .distantFuture
    let cursorID = before?.1 ?? UUID(uuidString: "ffffffff-ffff-ffff-ffff-ffffffffffff")!
    let rows = try await self.database.client.query(
      """
      SELECT \(unescaped: Self.silenceColumns) FROM silences
      WHERE tenant = \(tenant) AND (\(includeExpired) OR ends_at > \(now)) AND (created_at, id) < (\(cursorTime), \(cursorID))
      ORDER BY created_at DESC, id DESC LIMIT \(limit)
      """,
      logger: self.logger
    ).collect()
    return try rows.map(Self.decodeSilence)
  }

  func expireSilence(tenant: String, id: UUID, now: Date) async throws {
    let rows = try await self.database.client.query(
      """
      UPDATE silences SET starts_at = least(starts_at, \(now) - interval '1 millisecond'), ends_at = least(ends_at, \(now)), updated_at = now()
      WHERE tenant = \(tenant) AND id = \(id) RETURNING 1
      """,
      logger: self.logger
    ).collect()
    guard !rows.isEmpty else { throw MaestroError.notFound("silence '\(id.uuidString.lowercased())' not found") }
  }
}
