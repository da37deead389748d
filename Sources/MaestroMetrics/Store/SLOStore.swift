import Foundation
import Logging
import MaestroCore
import MaestroKit
import MaestroProtos
import PostgresNIO
import SwiftProtobuf

/// The `slos` table. The definition is stored as the SLO's canonical proto JSON in `spec`, with
/// objective and window also in their own columns (for operators' SQL).
struct SLOStore: Sendable {
  let database: Database
  let logger: Logger

  struct Stored: Sendable {
    var id: UUID
    var tenant: String
    var definition: SLODefinition
    var source: String
    var createdAt: Date
    var updatedAt: Date
  }

  static let columns = "id, tenant, spec::text, source, created_at, updated_at"

  static func decode(_ row: PostgresRow) throws -> Stored {
    let (id, tenant, spec, source, created, updated) = try row.decode((UUID, String, String, String, Date, Date).self)
    var options = JSONDecodingOptions()
    options.ignoreUnknownFields = true
    let proto = try Maestro_Metrics_V1_SLO(jsonString: spec, options: options)
    return Stored(id: id, tenant: tenant, definition: try SLODefinition(proto: proto), source: source, createdAt: created, updatedAt: updated)
  }

  static func spec(_ definition: SLODefinition) throws -> String {
    try definition.proto.jsonString()
  }

  /// Creates `definition`; ALREADY_EXISTS when the name is taken (or, with `ifAbsent`, returns nil).
  func create(_ definition: SLODefinition, tenant: String, source: String, ifAbsent: Bool = false) async throws -> Stored? {
    let spec = try Self.spec(definition)
    let labels = JSONValueText.object(definition.labels)
    let rows = try await self.database.client.query(
      """
      INSERT INTO slos (tenant, name, description, spec, objective, rolling_window, source, labels)
      VALUES (\(tenant), \(definition.name), \(definition.description), \(spec)::jsonb, \(definition.objective),
              make_interval(secs => \(definition.window.seconds)), \(source), \(labels)::jsonb)
      ON CONFLICT (tenant, name) DO NOTHING
      RETURNING \(unescaped: Self.columns)
      """,
      logger: self.logger
    ).collect()
    guard let row = rows.first else {
      if ifAbsent { return nil }
      throw MaestroError(.alreadyExists, "SLO '\(definition.name)' already exists")
    }
    return try Self.decode(row)
  }

  func get(tenant: String, name: String) async throws -> Stored? {
    let rows = try await self.database.client.query(
      "SELECT \(unescaped: Self.columns) FROM slos WHERE tenant = \(tenant) AND name = \(name)", logger: self.logger
    ).collect()
    return try rows.first.map(Self.decode)
  }

  func update(_ definition: SLODefinition, tenant: String) async throws -> Stored {
    let spec = try Self.spec(definition)
    let labels = JSONValueText.object(definition.labels)
    let rows = try await self.database.client.query(
      """
      UPDATE slos SET description = \(definition.description), spec = \(spec)::jsonb, objective = \(definition.objective),
        rolling_window = make_interval(secs => \(definition.window.seconds)), labels = \(labels)::jsonb,
        source = CASE WHEN source = 'default' THEN 'api' ELSE source END, version = version + 1, updated_at = now()
      WHERE tenant = \(tenant) AND name = \(definition.name)
      RETURNING \(unescaped: Self.columns)
      """,
      logger: self.logger
    ).collect()
    guard let row = rows.first else { throw MaestroError.notFound("SLO '\(definition.name)' not found") }
    return try Self.decode(row)
  }

  /// Deletes the SLO and resolves its open alerts (the history keeps them, with slo_id cleared).
  func delete(tenant: String, name: String) async throws {
    try await self.database.withTransaction { connection in
      _ = try await connection.query(
        """
        UPDATE alerts SET state = 'resolved', resolved_at = now() WHERE tenant = \(tenant) AND state <> 'resolved'
          AND slo_id = (SELECT id FROM slos WHERE tenant = \(tenant) AND name = \(name))
        """,
        logger: self.logger
      ).collect()
      let deleted = try await connection.query(
        "DELETE FROM slos WHERE tenant = \(tenant) AND name = \(name) RETURNING 1", logger: self.logger
      ).collect()
      guard !deleted.isEmpty else { throw MaestroError.notFound("SLO '\(name)' not found") }
    }
  }

  /// A page of the tenant's SLOs after `after` (by name) carrying all of `labels`.
  func list(tenant: String, after: String, limit: Int, labels: [String: String] = [:]) async throws -> [Stored] {
    let rows = try await self.database.client.query(
      """
      SELECT \(unescaped: Self.columns) FROM slos WHERE tenant = \(tenant) AND name > \(after) AND labels @> \(JSONValueText.object(labels))::jsonb
      ORDER BY name LIMIT \(limit)
      """,
      logger: self.logger
    ).collect()
    return try rows.map(Self.decode)
  }

  /// Every enabled SLO of every tenant (the evaluator's work list), bounded by `limit`; with
  /// `enabledOnly` false, disabled ones too (the filter aggregates serve every SLO's status).
  func allEnabled(limit: Int = 10_000, enabledOnly: Bool = true) async throws -> [Stored] {
    let rows = try await self.database.client.query(
      "SELECT \(unescaped: Self.columns) FROM slos WHERE enabled OR NOT \(enabledOnly) ORDER BY tenant, name LIMIT \(limit)", logger: self.logger
    ).collect()
    var result: [Stored] = []
    for row in rows {
      do { result.append(try Self.decode(row)) } catch { self.logger.error("skipping an SLO whose stored spec does not decode", metadata: ["error": "\(error)"]) }
    }
    return result
  }

  /// Installs `definitions` for `tenant` where no SLO of the same name exists.
  func installAbsent(_ definitions: [SLODefinition], tenant: String, source: String) async throws -> Int {
    var installed = 0
    for definition in definitions where try await self.create(definition, tenant: tenant, source: source, ifAbsent: true) != nil {
      installed += 1
    }
    return installed
  }
}

/// Minimal JSON text for string maps (labels, annotations).
enum JSONValueText {
  static func object(_ map: [String: String]) -> String {
    var text = "{"
    for (index, (key, value)) in map.sorted(by: { $0.key < $1.key }).enumerated() {
      if index > 0 { text += "," }
      JSONString.append(key, to: &text)
      text += ":"
      JSONString.append(value, to: &text)
    }
    return text + "}"
  }
}
