import MaestroCore

extension JSONValue {
  /// Compact JSON text with sorted object keys (deterministic: used for hashing and storage).
  public var jsonText: String {
    var text = ""
    self.write(to: &text)
    return text
  }

  private func write(to text: inout String) {
    switch self {
    case .null: text += "null"
    case .bool(let value): text += value ? "true" : "false"
    case .number(let value): text += Self.format(value)
    case .string(let value): JSONString.append(value, to: &text)
    case .array(let values):
      text += "["
      for (index, value) in values.enumerated() {
        if index > 0 { text += "," }
        value.write(to: &text)
      }
      text += "]"
    case .object(let members):
      text += "{"
      for (index, key) in members.keys.sorted().enumerated() {
        if index > 0 { text += "," }
        JSONString.append(key, to: &text)
        text += ":"
        members[key]!.write(to: &text)
      }
      text += "}"
    }
  }

  /// Numbers print as integers when they have no fraction and fit exactly.
  static func format(_ value: Double) -> String {
    guard value.isFinite else { return "null" }
    if value.rounded() == value, abs(value) < 9_007_199_254_740_992 {
      return String(Int64(value))
    }
    return "\(value)"
  }


  /// Parses JSON text (as Postgres returns `jsonb::text`); nesting is limited to 256 levels.
  public init(jsonText: String) throws(JSONValueError) {
    var parser = JSONTextParser(Array(jsonText.utf8))
    self = try parser.parseDocument()
  }
}

/// JSON text that could not be turned into a ``JSONValue``.
public struct JSONValueError: Error, Sendable, CustomStringConvertible {
  public var message: String
  public var description: String { self.message }
}
