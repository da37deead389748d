/// What one DDL statement does to a schema, as far as linting and drift detection need.
/// Produced by ``SchemaChange/parse(_:)`` from a statement's tokens; statements it does not
/// understand produce no changes (they are neither flagged nor tracked).
enum SchemaChange: Sendable, Equatable {
  /// A column as written in `CREATE TABLE` or `ADD COLUMN`: its name and the rest of its
  /// definition (type, default, constraints).
  struct Column: Sendable, Equatable {
    var name: String
    var definition: [SQLToken]
  }

  /// `columns` is nil when the statement does not list them (`AS SELECT`, `PARTITION OF`).
  case createTable(String, columns: [Column]?)
  case dropTable(String)
  case renameTable(String, to: String)
  case addColumn(String, Column)
  case dropColumn(String, column: String)
  case renameColumn(String, column: String, to: String)
  case alterColumnType(String, column: String)
  case setNotNull(String, column: String)
  /// `ADD [CONSTRAINT name] …`: the tokens after `ADD`.
  case addConstraint(String, name: String?, definition: [SQLToken])
  case validateConstraint(String, name: String)
  /// Any other `ALTER TABLE` action (it still takes a lock on the table).
  case otherAlterTable(String)
  case createIndex(String?, table: String, concurrently: Bool)
  case dropIndex(String, concurrently: Bool)
  case renameIndex(String, to: String)
  /// `VACUUM FULL` or `CLUSTER` of a table (nil: every table).
  case rewriteTable(String?)
  /// `SET lock_timeout = …` or `RESET lock_timeout`; `disabled` when it leaves no timeout.
  case setLockTimeout(disabled: Bool)

  /// The table the change touches, if any.
  var table: String? {
    switch self {
    case .createTable(let table, _), .dropTable(let table), .renameTable(let table, _), .addColumn(let table, _),
      .dropColumn(let table, _), .renameColumn(let table, _, _), .alterColumnType(let table, _),
      .setNotNull(let table, _), .addConstraint(let table, _, _), .validateConstraint(let table, _),
      .otherAlterTable(let table), .createIndex(_, let table, _):
      table
    case .rewriteTable(let table): table
    case .dropIndex, .renameIndex, .setLockTimeout: nil
    }
  }

  /// True for the changes made by `ALTER TABLE`.
  var isAlterTable: Bool {
    switch self {
    case .renameTable, .addColumn, .dropColumn, .renameColumn, .alterColumnType, .setNotNull, .addConstraint,
      .validateConstraint, .otherAlterTable:
      true
    default:
      false
    }
  }

  static let constraintKeywords: Set<String> = ["constraint", "primary", "unique", "check", "foreign", "exclude", "like"]

  /// The changes `statement` makes.
  static func parse(_ statement: String) -> [SchemaChange] {
    self.parse(tokens: SQLToken.tokenize(statement))
  }

  static func parse(tokens: [SQLToken]) -> [SchemaChange] {
    guard let first = tokens.first, first.kind == .word else { return [] }
    switch first.text {
    case "create": return self.parseCreate(tokens)
    case "alter": return self.parseAlter(tokens)
    case "drop": return self.parseDrop(tokens)
    case "vacuum":
      guard tokens.contains(phrase: "full") else { return [] }
      let name = tokens.last?.identifier.flatMap { $0 == "full" || $0 == "verbose" || $0 == "analyze" ? nil : $0 }
      return [.rewriteTable(name)]
    case "cluster":
      return [.rewriteTable(tokens.qualifiedName(at: 1)?.name)]
    case "set", "reset":
      var index = 1
      if tokens.matches("local", at: index) || tokens.matches("session", at: index) { index += 1 }
      guard tokens.matches("lock_timeout", at: index) else { return [] }
      // RESET returns to the server's default, which is no timeout.
      if first.text == "reset" { return [.setLockTimeout(disabled: true)] }
      let value = tokens.dropFirst(index + 1).first { !($0.kind == .punctuation || $0.is("to")) }
      let disabled = value.map { $0.text == "0" || $0.text == "0s" || $0.text == "0ms" || $0.is("default") } ?? false
      return [.setLockTimeout(disabled: disabled)]
    default:
      return []
    }
  }

  private static func parseCreate(_ tokens: [SQLToken]) -> [SchemaChange] {
    var index = 1
    if tokens.matches("or replace", at: index) { index += 2 }
    while index < tokens.count,
      ["unlogged", "temporary", "temp", "global", "local", "unique", "materialized"].contains(tokens[index].text),
      tokens[index].kind == .word
    {
      index += 1
    }
    guard index < tokens.count else { return [] }
    if tokens[index].is("table") || tokens[index].is("view") {
      let isView = tokens[index].is("view")
      index += 1
      if tokens.matches("if not exists", at: index) { index += 3 }
      guard let (name, end) = tokens.qualifiedName(at: index) else { return [] }
      if isView { return [.createTable(name, columns: nil)] }
      guard let list = tokens.parenthesisedList(at: end), !tokens.matches("partition of", at: end) else {
        return [.createTable(name, columns: nil)]
      }
      let columns = list.items.compactMap { item -> Column? in
        guard let head = item.first, let columnName = head.identifier else { return nil }
        if head.kind == .word, self.constraintKeywords.contains(head.text) { return nil }
        return Column(name: columnName, definition: Array(item.dropFirst()))
      }
      return [.createTable(name, columns: columns)]
    }
    if tokens[index].is("index") {
      index += 1
      var concurrently = false
      if tokens.matches("concurrently", at: index) {
        concurrently = true
        index += 1
      }
      if tokens.matches("if not exists", at: index) { index += 3 }
      var name: String?
      if index < tokens.count, !tokens[index].is("on") {
        name = tokens.qualifiedName(at: index)?.name
      }
      guard let on = tokens.firstIndex(of: "on", from: index) else { return [] }
      var tableIndex = on + 1
      if tokens.matches("only", at: tableIndex) { tableIndex += 1 }
      guard let table = tokens.qualifiedName(at: tableIndex)?.name else { return [] }
      return [.createIndex(name, table: table, concurrently: concurrently)]
    }
    return []
  }

  private static func parseDrop(_ tokens: [SQLToken]) -> [SchemaChange] {
    var index = 1
    if tokens.matches("table", at: index) {
      index += 1
      if tokens.matches("if exists", at: index) { index += 2 }
      return self.nameList(tokens, from: index).map { .dropTable($0) }
    }
    if tokens.matches("index", at: index) {
      index += 1
      var concurrently = false
      if tokens.matches("concurrently", at: index) {
        concurrently = true
        index += 1
      }
      if tokens.matches("if exists", at: index) { index += 2 }
      return self.nameList(tokens, from: index).map { .dropIndex($0, concurrently: concurrently) }
    }
    return []
  }

  private static func nameList(_ tokens: [SQLToken], from start: Int) -> [String] {
    var names: [String] = []
    var index = start
    while let (name, end) = tokens.qualifiedName(at: index), !["cascade", "restrict"].contains(name) || tokens[index].kind == .quotedIdentifier {
      names.append(name)
      guard end < tokens.count, tokens[end].text == "," else { break }
      index = end + 1
    }
    return names
  }

  private static func parseAlter(_ tokens: [SQLToken]) -> [SchemaChange] {
    if tokens.matches("alter index", at: 0) {
      var index = 2
      if tokens.matches("if exists", at: index) { index += 2 }
      guard let (name, end) = tokens.qualifiedName(at: index), tokens.matches("rename to", at: end),
        let newName = tokens.qualifiedName(at: end + 2)?.name
      else { return [] }
      return [.renameIndex(name, to: newName)]
    }
    guard tokens.matches("alter table", at: 0) else { return [] }
    var index = 2
    if tokens.matches("if exists", at: index) { index += 2 }
    if tokens.matches("only", at: index) { index += 1 }
    guard let (table, end) = tokens.qualifiedName(at: index) else { return [] }
    var actions: [[SQLToken]] = []
    var current: [SQLToken] = []
    var depth = 0
    for token in tokens[end...] {
      if token.kind == .punctuation, token.text == "(" { depth += 1 }
      if token.kind == .punctuation, token.text == ")" { depth -= 1 }
      if token.kind == .punctuation, token.text == ",", depth == 0 {
        actions.append(current)
        current = []
      } else {
        current.append(token)
      }
    }
    if !current.isEmpty { actions.append(current) }
    return actions.map { self.parseAlterAction(table: table, $0) }
  }

  private static func parseAlterAction(table: String, _ action: [SQLToken]) -> SchemaChange {
    var index = 0
    if action.matches("add", at: 0) {
      index = 1
      if let next = action.dropFirst().first, next.kind == .word, self.constraintKeywords.contains(next.text) {
        var name: String?
        if next.is("constraint") { name = action.count > 2 ? action[2].identifier : nil }
        return .addConstraint(table, name: name, definition: Array(action.dropFirst()))
      }
      if action.matches("column", at: index) { index += 1 }
      if action.matches("if not exists", at: index) { index += 3 }
      guard index < action.count, let column = action[index].identifier else { return .otherAlterTable(table) }
      return .addColumn(table, Column(name: column, definition: Array(action.dropFirst(index + 1))))
    }
    if action.matches("drop", at: 0) {
      index = 1
      if action.matches("constraint", at: index) { return .otherAlterTable(table) }
      if action.matches("column", at: index) { index += 1 }
      if action.matches("if exists", at: index) { index += 2 }
      guard index < action.count, let column = action[index].identifier else { return .otherAlterTable(table) }
      return .dropColumn(table, column: column)
    }
    if action.matches("rename", at: 0) {
      if action.matches("rename to", at: 0), let newName = action.qualifiedName(at: 2)?.name {
        return .renameTable(table, to: newName)
      }
      if action.matches("rename constraint", at: 0) { return .otherAlterTable(table) }
      index = action.matches("rename column", at: 0) ? 2 : 1
      guard index + 2 < action.count, let from = action[index].identifier, action[index + 1].is("to"),
        let to = action[index + 2].identifier
      else { return .otherAlterTable(table) }
      return .renameColumn(table, column: from, to: to)
    }
    if action.matches("alter", at: 0) {
      index = action.matches("alter column", at: 0) ? 2 : 1
      guard index < action.count, let column = action[index].identifier else { return .otherAlterTable(table) }
      if action.matches("type", at: index + 1) || action.matches("set data type", at: index + 1) {
        return .alterColumnType(table, column: column)
      }
      if action.matches("set not null", at: index + 1) {
        return .setNotNull(table, column: column)
      }
      return .otherAlterTable(table)
    }
    if action.matches("validate constraint", at: 0), action.count > 2, let name = action[2].identifier {
      return .validateConstraint(table, name: name)
    }
    return .otherAlterTable(table)
  }
}
