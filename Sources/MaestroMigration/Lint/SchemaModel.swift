/// The tables, columns and indexes a service's migrations create, replayed statement by
/// statement from their SQL. The linter uses it to tell tables that already exist from tables
/// created by the migration at hand; drift detection compares it with the live schema.
///
/// Statements the model does not understand leave it unchanged, so it is a lower bound: what
/// it lists is certainly expected, which is what drift detection needs.
struct SchemaModel: Sendable, Equatable {
  struct Table: Sendable, Equatable {
    /// Columns in creation order; nil when not known (`CREATE TABLE … AS`, partitions, views).
    var columns: [String]?
  }

  private(set) var tables: [String: Table] = [:]
  /// Index name → table.
  private(set) var indexes: [String: String] = [:]
  /// `table.column` pairs covered by a validated `CHECK (column IS NOT NULL)`.
  private(set) var validatedNotNullChecks: Set<String> = []
  /// Not-yet-validated `CHECK (column IS NOT NULL) NOT VALID` constraints: name → `table.column`.
  private var pendingNotNullChecks: [String: String] = [:]

  /// The model after `migrations`' forward statements, in order.
  static func replaying(_ migrations: [Migration]) -> SchemaModel {
    var model = SchemaModel()
    for migration in migrations {
      for statement in migration.upStatements { model.apply(SchemaChange.parse(statement.text)) }
    }
    return model
  }

  mutating func apply(_ changes: [SchemaChange]) {
    for change in changes { self.apply(change) }
  }

  mutating func apply(_ change: SchemaChange) {
    switch change {
    case .createTable(let name, let columns):
      self.tables[name] = Table(columns: columns?.map(\.name))
      for column in columns ?? [] where Self.isNotNull(column.definition) {
        self.validatedNotNullChecks.insert("\(name).\(column.name)")
      }
    case .dropTable(let name):
      self.tables[name] = nil
      self.indexes = self.indexes.filter { $0.value != name }
    case .renameTable(let name, let newName):
      self.tables[newName] = self.tables.removeValue(forKey: name)
      self.indexes = self.indexes.mapValues { $0 == name ? newName : $0 }
    case .addColumn(let table, let column):
      self.tables[table]?.columns?.append(column.name)
    case .dropColumn(let table, let column):
      self.tables[table]?.columns?.removeAll { $0 == column }
    case .renameColumn(let table, let column, let newName):
      if let position = self.tables[table]?.columns?.firstIndex(of: column) {
        self.tables[table]?.columns?[position] = newName
      }
    case .addConstraint(let table, let name, let definition):
      guard let column = Self.notNullCheckColumn(definition) else { break }
      if definition.contains(phrase: "not valid"), let name {
        self.pendingNotNullChecks[name] = "\(table).\(column)"
      } else {
        self.validatedNotNullChecks.insert("\(table).\(column)")
      }
    case .validateConstraint(_, let name):
      if let key = self.pendingNotNullChecks.removeValue(forKey: name) { self.validatedNotNullChecks.insert(key) }
    case .setNotNull(let table, let column):
      self.validatedNotNullChecks.insert("\(table).\(column)")
    case .createIndex(let name, let table, _):
      if let name { self.indexes[name] = table }
    case .dropIndex(let name, _):
      self.indexes[name] = nil
    case .renameIndex(let name, let newName):
      self.indexes[newName] = self.indexes.removeValue(forKey: name)
    case .alterColumnType, .otherAlterTable, .rewriteTable, .setLockTimeout:
      break
    }
  }

  /// `CHECK (column IS NOT NULL)` → column.
  static func notNullCheckColumn(_ definition: [SQLToken]) -> String? {
    guard let check = definition.firstIndex(of: "check"), check + 5 < definition.count,
      definition[check + 1].text == "(", let column = definition[check + 2].identifier,
      definition.matches("is not null", at: check + 3)
    else { return nil }
    return column
  }

  /// A column definition that says `NOT NULL` (or is a primary key).
  static func isNotNull(_ definition: [SQLToken]) -> Bool {
    definition.contains(phrase: "not null") || definition.contains(phrase: "primary key")
  }
}
