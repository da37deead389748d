import Foundation

/// The functions expressions may call. Each is pure except `now()`, which reads the
/// evaluation context's clock.
public enum ExpressionFunctions {
  /// name → accepted argument counts.
  static let arities: [String: ClosedRange<Int>] = [
    "length": 1...1,
    "lower": 1...1,
    "upper": 1...1,
    "contains": 2...2,
    "default": 2...2,
    "now": 0...0,
    "format": 1...16,
    "string": 1...1,
    "number": 1...1,
    "keys": 1...1,
    "join": 2...2,
    "pluck": 2...2,
  ]

  public static var names: Set<String> { Set(self.arities.keys) }

  static func checkArity(_ name: String, count: Int, offset: Int) throws(ExpressionError) {
    guard let range = self.arities[name] else { throw ExpressionError("unknown function '\(name)'", offset: offset) }
    guard range.contains(count) else {
      let expected = range.lowerBound == range.upperBound ? "\(range.lowerBound)" : "\(range.lowerBound) to \(range.upperBound)"
      throw ExpressionError("\(name)() takes \(expected) argument\(range.upperBound == 1 ? "" : "s"), got \(count)", offset: offset)
    }
  }

  /// Longest string a function may build.
  static let maximumStringLength = 1 << 20

  static func call(_ name: String, _ arguments: [JSONValue], context: ExpressionContext) throws(ExpressionError) -> JSONValue {
    try self.checkArity(name, count: arguments.count, offset: 0)
    switch name {
    case "length":
      switch arguments[0] {
      case .string(let value): return .number(Double(value.count))
      case .array(let values): return .number(Double(values.count))
      case .object(let members): return .number(Double(members.count))
      case .null: return .number(0)
      default: throw ExpressionError("length() needs a string, list or object, got \(arguments[0].typeName)")
      }
    case "lower", "upper":
      guard case .string(let value) = arguments[0] else {
        throw ExpressionError("\(name)() needs a string, got \(arguments[0].typeName)")
      }
      return .string(name == "lower" ? value.lowercased() : value.uppercased())
    case "contains":
      switch (arguments[0], arguments[1]) {
      case (.string(let haystack), .string(let needle)): return .bool(haystack.contains(needle))
      case (.array(let values), let needle): return .bool(values.contains(needle))
      case (.object(let members), .string(let key)): return .bool(members[key] != nil)
      default:
        throw ExpressionError("contains() needs (string, string), (list, value) or (object, key), got (\(arguments[0].typeName), \(arguments[1].typeName))")
      }
    case "default":
      return arguments[0] == .null ? arguments[1] : arguments[0]
    case "now":
      return .string(context.now.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
    case "format":
      return .string(try self.format(arguments))
    case "string":
      return .string(arguments[0].interpolated)
    case "number":
      switch arguments[0] {
      case .number: return arguments[0]
      case .bool(let value): return .number(value ? 1 : 0)
      case .string(let text):
        guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite else {
          throw ExpressionError("number(): '\(text.prefix(40))' is not a number")
        }
        return .number(value)
      default: throw ExpressionError("number() needs a string, number or boolean, got \(arguments[0].typeName)")
      }
    case "keys":
      guard case .object(let members) = arguments[0] else {
        throw ExpressionError("keys() needs an object, got \(arguments[0].typeName)")
      }
      return .array(members.keys.sorted().map(JSONValue.string))
    case "pluck":
      // The `key` member of each element of a list (null where an element has none): e.g. the
      // bodies of a foreach of http calls, pluck(steps.fetch.output.results, 'body').
      guard case .array(let values) = arguments[0], case .string(let key) = arguments[1] else {
        throw ExpressionError("pluck() needs (list, string), got (\(arguments[0].typeName), \(arguments[1].typeName))")
      }
      return .array(values.map { element in
        if case .object(let members) = element { members[key] ?? .null } else { .null }
      })
    case "join":
      guard case .array(let values) = arguments[0], case .string(let separator) = arguments[1] else {
        throw ExpressionError("join() needs (list, string)")
      }
      // null elements (a failed foreach iteration's result) are left out.
      let joined = values.filter { $0 != .null }.map(\.interpolated).joined(separator: separator)
      guard joined.count <= self.maximumStringLength else { throw ExpressionError("join() result too long") }
      return .string(joined)
    default:
      throw ExpressionError("unknown function '\(name)'")
    }
  }

  /// `format("Hello {}, you are {}", name, age)`: each `{}` takes the next argument.
  private static func format(_ arguments: [JSONValue]) throws(ExpressionError) -> String {
    guard case .string(let template) = arguments[0] else {
      throw ExpressionError("format() needs a string template first, got \(arguments[0].typeName)")
    }
    var result = ""
    var next = 1
    var rest = Substring(template)
    while let range = rest.range(of: "{}") {
      result += rest[..<range.lowerBound]
      guard next < arguments.count else { throw ExpressionError("format(): more {} than arguments") }
      result += arguments[next].interpolated
      next += 1
      rest = rest[range.upperBound...]
      guard result.count <= self.maximumStringLength else { throw ExpressionError("format() result too long") }
    }
    result += rest
    return result
  }
}

extension JSONValue {
  /// How a value reads inside a string: strings as themselves, everything else as JSON.
  public var interpolated: String {
    if case .string(let value) = self { return value }
    return self.jsonText
  }
}
