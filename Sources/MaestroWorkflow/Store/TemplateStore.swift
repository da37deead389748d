import Crypto
import Foundation
import Logging
import MaestroCore
import MaestroKit
import MaestroProtos
import MaestroWorkflowModel
import PostgresNIO
import SwiftProtobuf

/// Parametric templates in the `workflow` schema, versioned like workflow definitions: a
/// registered version is immutable, a changed template becomes version + 1, an identical one
/// (same checksum) returns the latest version.
struct TemplateStore: Sendable {
  let logger: Logger

  /// A stored template version with its metadata.
  struct Stored: Sendable {
    var template: Maestro_Workflow_V1_Template
    var createdAt: Date
    var createdBy: String?

    /// The API form, with its hash and metadata.
    func proto(tenant: String) -> Maestro_Workflow_V1_Template {
      var template = self.template
      template.meta = .with { meta in
        meta.tenant = tenant
        meta.createdAt = Google_Protobuf_Timestamp(date: self.createdAt)
        meta.updatedAt = Google_Protobuf_Timestamp(date: self.createdAt)
        meta.createdBy = self.createdBy ?? ""
      }
      return template
    }
  }

  /// SHA-256 of the template's canonical JSON (version, hash and metadata excluded).
  static func checksum(of template: Maestro_Workflow_V1_Template) throws -> String {
    var copy = template
    copy.version = 0
    copy.contentHash = ""
    copy.clearMeta()
    copy.definition.version = 0
    let canonical = try JSONValue(jsonText: try copy.jsonString()).jsonText
    return SHA256.hash(data: Data(canonical.utf8)).map { String(format: "%02x", $0) }.joined()
  }

  /// Stores `template` as the next version of its name unless it equals the latest version
  /// (then that version is returned with `created` false). Serialised per name by an advisory
  /// transaction lock. The caller has validated the template.
  func register(
    _ template: Maestro_Workflow_V1_Template,
    tenant: String,
    createdBy: String?,
    on connection: PostgresConnection
  ) async throws -> (Stored, created: Bool) {
    let checksum = try Self.checksum(of: template)
    // A lock key of its own namespace: a template may share its name with a workflow.
    _ = try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\("template/" + tenant + "/" + template.name)))", logger: self.logger).collect()
    if let latest = try await self.get(tenant: tenant, name: template.name, version: 0, on: connection), latest.template.contentHash == checksum {
      return (latest, false)
    }
    let rows = try await connection.query(
      "SELECT coalesce(max(version), 0) + 1 FROM templates WHERE tenant = \(tenant) AND name = \(template.name)",
      logger: self.logger
    )
    var next = 1
    for try await value in rows.decode(Int.self) { next = value }
    var definition = template.definition
    definition.version = 0
    let parameters = "[" + (try template.parameters.map { try $0.jsonString() }).joined(separator: ",") + "]"
    let labels = JSONValue.object(template.labels.mapValues(JSONValue.string)).jsonText
    let inserted = try await connection.query(
      """
      INSERT INTO templates (tenant, name, version, description, parameters, body, checksum, labels, created_by)
      VALUES (\(tenant), \(template.name), \(next), \(template.description_p), \(parameters)::jsonb, \(try definition.jsonString())::jsonb,
        \(checksum), \(labels)::jsonb, \(createdBy))
      RETURNING created_at
      """,
      logger: self.logger
    )
    var createdAt = Date()
    for try await value in inserted.decode(Date.self) { createdAt = value }
    var stored = template
    stored.version = Int32(next)
    stored.definition = definition
    stored.contentHash = checksum
    stored.clearMeta()
    return (Stored(template: stored, createdAt: createdAt, createdBy: createdBy), true)
  }

  static let columns = "name, version, description, parameters::text, body::text, checksum, labels::text, created_at, created_by"

  /// One version (0 = the latest) of a template, or nil.
  func get(tenant: String, name: String, version: Int, on connection: PostgresConnection) async throws -> Stored? {
    let rows = try await connection.query(
      version > 0
        ? "SELECT \(unescaped: Self.columns) FROM templates WHERE tenant = \(tenant) AND name = \(name) AND version = \(version)"
        : "SELECT \(unescaped: Self.columns) FROM templates WHERE tenant = \(tenant) AND name = \(name) ORDER BY version DESC LIMIT 1",
      logger: self.logger
    )
    for try await row in rows { return try Self.stored(row) }
    return nil
  }

  /// The latest version of each template, ordered by name, after the name `after`.
  func list(
    tenant: String,
    namePrefix: String,
    after: String,
    limit: Int,
    on connection: PostgresConnection
  ) async throws -> [Stored] {
    let rows = try await connection.query(
      """
      SELECT DISTINCT ON (name) \(unescaped: Self.columns) FROM templates
      WHERE tenant = \(tenant) AND name > \(after) AND name LIKE \(WorkflowGRPCService.likePrefix(namePrefix))
      ORDER BY name, version DESC LIMIT \(limit)
      """,
      logger: self.logger
    )
    var items: [Stored] = []
    for try await row in rows { items.append(try Self.stored(row)) }
    return items
  }

  private static func stored(_ row: PostgresRow) throws -> Stored {
    let (name, version, description, parameters, body, checksum, labels, createdAt, createdBy) =
      try row.decode((String, Int, String, String, String, String, String, Date, String?).self)
    var template = Maestro_Workflow_V1_Template()
    template.name = name
    template.version = Int32(version)
    template.description_p = description
    guard case .array(let specs) = try JSONValue(jsonText: parameters) else {
      throw MaestroError(.internal, "stored template '\(name)' v\(version) has malformed parameters")
    }
    template.parameters = try specs.map { try Maestro_Workflow_V1_ParameterSpec(jsonString: $0.jsonText) }
    template.definition = try Maestro_Workflow_V1_WorkflowDefinition(jsonString: body)
    template.contentHash = checksum
    if case .object(let members) = try JSONValue(jsonText: labels) {
      template.labels = members.compactMapValues { if case .string(let value) = $0 { value } else { nil } }
    }
    return Stored(template: template, createdAt: createdAt, createdBy: createdBy)
  }
}
