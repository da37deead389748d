import Foundation
import Logging
import MaestroAuthModel
import MaestroCore
import MaestroKit
import MaestroProtos
import PostgresNIO
import SwiftProtobuf

/// The append-only audit log (`auth.audit_events`): append, and page newest first.
struct AuditStore: Sendable {
  let database: Database
  let logger: Logger

  /// Appends `entry`. Uses `connection` when the event must commit with the change it records.
  func append(_ entry: AuditEntry, on connection: PostgresConnection? = nil) async throws {
    var details = entry.details
    if let actorKind = entry.actorKind { details["actor_kind"] = actorKind }
    let detailsJSON = String(decoding: try JSONEncoder().encode(details), as: UTF8.self)
    let address = entry.clientAddress.flatMap(ClientAddress.normalised)
    let query: PostgresQuery = """
      INSERT INTO audit_events (tenant, type, outcome, actor_subject, actor_tenant, sid, client_address, user_agent, request_id, target_type, target_id, details)
      VALUES (\(entry.tenant), \(entry.kind.rawValue), \(entry.outcome.rawValue), \(entry.actorSubject), \(entry.actorTenant), \(entry.sessionID),
              \(address)::inet, \(entry.userAgent.map { String($0.prefix(256)) }), \(entry.requestID), \(entry.targetType), \(entry.targetID), \(detailsJSON)::jsonb)
      """
    if let connection {
      _ = try await connection.query(query, logger: self.logger).collect()
    } else {
      _ = try await self.database.client.query(query, logger: self.logger).collect()
    }
  }

  /// Appends `entry`, logging instead of failing the request when the log cannot be written
  /// (used for failures, where the request is already being refused).
  func record(_ entry: AuditEntry) async {
    do {
      try await self.append(entry)
    } catch {
      self.logger.error("audit append failed", metadata: ["type": "\(entry.kind.rawValue)", "error": "\(error)"])
    }
  }

  struct Filter: Sendable {
    var tenant: String
    var start: Date?
    var end: Date?
    var kinds: [String]
    var actor: String?
  }

  /// One page, newest first, keyset on (occurred_at, id).
  func list(_ filter: Filter, pageSize: Int, after cursor: Int64?) async throws -> (events: [Maestro_Auth_V1_AuditEvent], next: Int64?) {
    let kinds = filter.kinds.isEmpty ? nil : filter.kinds
    let query: PostgresQuery = """
      SELECT id, type, occurred_at, tenant, outcome, actor_subject, actor_tenant, host(client_address), request_id, target_type, target_id, details::text
      FROM audit_events
      WHERE tenant = \(filter.tenant)
        AND (\(filter.start)::timestamptz IS NULL OR occurred_at >= \(filter.start))
        AND (\(filter.end)::timestamptz IS NULL OR occurred_at < \(filter.end))
        AND (\(kinds)::text[] IS NULL OR type = ANY(\(kinds)))
        AND (\(filter.actor)::text IS NULL OR actor_subject = \(filter.actor))
        AND (\(cursor)::bigint IS NULL OR (occurred_at, id) < (SELECT c.occurred_at, c.id FROM audit_events c WHERE c.id = \(cursor)))
      ORDER BY occurred_at DESC, id DESC
      LIMIT \(pageSize + 1)
      """
    var events: [Maestro_Auth_V1_AuditEvent] = []
    var keys: [Int64] = []
    let rows = try await self.database.client.query(query, logger: self.logger)
    for try await (id, type, occurredAt, tenant, outcome, actor, actorTenant, address, requestID, targetType, targetID, details) in rows.decode(
      (Int64, String, Date, String, String, String?, String?, String?, String?, String?, String?, String).self
    ) {
      var event = Maestro_Auth_V1_AuditEvent()
      event.id = String(id)
      event.type = AuditEventKind(rawValue: type)?.proto ?? .unspecified
      event.occurredAt = .init(date: occurredAt)
      event.tenant = tenant
      event.actorID = actor ?? ""
      event.actorTenant = actorTenant ?? ""
      event.success = outcome == "success"
      event.clientAddress = address ?? ""
      event.requestID = requestID ?? ""
      if let targetType, let targetID { event.target = "\(targetType)/\(targetID)" }
      if let structValue = try? Google_Protobuf_Struct(jsonString: details) {
        event.details = structValue
        if case .stringValue(let kind)? = structValue.fields["actor_kind"]?.kind {
          event.actorKind = kind == "service_account" ? .serviceAccount : .user
        }
      }
      events.append(event)
      keys.append(id)
    }
    guard events.count > pageSize else { return (events, nil) }
    events.removeLast()
    return (events, keys[pageSize - 1])
  }
}
