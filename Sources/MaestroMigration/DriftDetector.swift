import Logging
import PostgresNIO

/// Compares a schema's live tables, columns and indexes with what its applied migrations say
/// should exist (``SchemaModel`` replayed from the ledger's files).
public struct DriftDetector: Sendable {
  /// One difference.
  public struct Drift: Sendable, Equatable {
    public enum Kind: String, Sendable {
      case missingTable = "missing-table"
      case missingColumn = "missing-column"
      case missingIndex = "missing-index"
      case checksumMismatch = "checksum-mismatch"
      case missingFile = "missing-file"
    }

    public var kind: Kind
    /// e.g. `workflow.runs.sla_deadline`.
    public var object: String
    public var message: String
  }

  /// The relations (with their columns) and indexes of one live schema.
  public struct LiveSchema: Sendable, Equatable {
    public var columns: [String: Set<String>] = [:]
    public var indexes: Set<String> = []

    /// Reads `schema` from pg_catalog (readable by any role).
    static func read(schema: String, on connection: PostgresConnection, logger: Logger) async throws -> LiveSchema {
      let rows = try await connection.query(
        """
        SELECT c.relname::text, c.relkind::text, coalesce(a.attname::text, '')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind <> 'i'
        WHERE n.nspname = \(schema) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'i')
        """,
        logger: logger
      )
      var live = LiveSchema()
      for try await (relation, kind, column) in rows.decode((String, String, String).self) {
        if kind == "i" {
          live.indexes.insert(relation)
        } else {
          live.columns[relation, default: []].formUnion(column.isEmpty ? [] : [column])
        }
      }
      return live
    }
  }

  /// Differences between `live` and what `migrations` (the applied ones, in order) create.
  static func drift(schema: String, applied migrations: [Migration], live: LiveSchema) -> [Drift] {
    let expected = SchemaModel.replaying(migrations)
    var drift: [Drift] = []
    for (table, model) in expected.tables.sorted(by: { $0.key < $1.key }) {
      guard let columns = live.columns[table] else {
        drift.append(Drift(kind: .missingTable, object: "\(schema).\(table)", message: "table \(schema).\(table) is created by an applied migration but does not exist"))
        continue
      }
      for column in model.columns ?? [] where !columns.contains(column) {
        drift.append(Drift(kind: .missingColumn, object: "\(schema).\(table).\(column)", message: "column \(column) of \(schema).\(table) is created by an applied migration but does not exist"))
      }
    }
    for (index, table) in expected.indexes.sorted(by: { $0.key < $1.key }) where !live.indexes.contains(index) && live.columns[table] != nil {
      drift.append(Drift(kind: .missingIndex, object: "\(schema).\(index)", message: "index \(schema).\(index) on \(table) is created by an applied migration but does not exist"))
    }
    return drift
  }
}
