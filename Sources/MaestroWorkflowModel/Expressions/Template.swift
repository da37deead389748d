/// A string that may contain `${...}` expressions.
///
/// A string that is exactly one `${...}` evaluates to the expression's value with its type; any
/// text around or between expressions makes the result a string (values are interpolated:
/// strings as themselves, others as JSON). `$${` escapes a literal `${`.
public struct Template: Sendable, Hashable {
  public enum Part: Sendable, Hashable {
    case text(String)
    case expression(Expression, source: String)
  }

  public let parts: [Part]

  /// Parses `text`; throws for an unterminated or invalid expression.
  public init(_ text: String) throws(ExpressionError) {
    var parts: [Part] = []
    var literal = ""
    var rest = Substring(text)
    while let start = rest.range(of: "${") {
      if rest[..<start.lowerBound].hasSuffix("$") {
        literal += rest[..<rest.index(before: start.lowerBound)] + "${"
        rest = rest[start.upperBound...]
        continue
      }
      literal += rest[..<start.lowerBound]
      let body = rest[start.upperBound...]
      guard let end = Self.closingBrace(in: body) else {
        throw ExpressionError("unterminated '${' in \"\(text.prefix(80))\"")
      }
      if !literal.isEmpty {
        parts.append(.text(literal))
        literal = ""
      }
      let source = String(body[..<end])
      parts.append(.expression(try ExpressionParser.parse(source), source: source))
      rest = body[body.index(after: end)...]
    }
    literal += rest
    if !literal.isEmpty || parts.isEmpty { parts.append(.text(literal)) }
    self.parts = parts
  }

  /// The `}` that closes an expression, skipping braces inside quoted strings.
  private static func closingBrace(in body: Substring) -> Substring.Index? {
    var quote: Character?
    var index = body.startIndex
    while index < body.endIndex {
      let character = body[index]
      if let open = quote {
        if character == "\\" {
          index = body.index(after: index)
          if index < body.endIndex { index = body.index(after: index) }
          continue
        }
        if character == open { quote = nil }
      } else if character == "'" || character == "\"" {
        quote = character
      } else if character == "}" {
        return index
      }
      index = body.index(after: index)
    }
    return nil
  }

  /// Whether the string has any expression.
  public var hasExpressions: Bool {
    self.parts.contains { if case .expression = $0 { true } else { false } }
  }

  /// The expressions it contains.
  public var expressions: [Expression] {
    self.parts.compactMap { if case .expression(let expression, _) = $0 { expression } else { nil } }
  }

  public func evaluate(in context: ExpressionContext) throws(ExpressionError) -> JSONValue {
    if self.parts.count == 1, case .expression(let expression, _) = self.parts[0] {
      return try expression.evaluate(in: context)
    }
    var result = ""
    for part in self.parts {
      switch part {
      case .text(let text): result += text
      case .expression(let expression, let source):
        do {
          result += try expression.evaluate(in: context).interpolated
        } catch {
          throw ExpressionError("${\(source)}: \(error.message)")
        }
      }
      guard result.count <= ExpressionFunctions.maximumStringLength else { throw ExpressionError("string too long") }
    }
    return .string(result)
  }
}

extension JSONValue {
  /// Evaluates every string leaf as a ``Template``; other values are kept.
  public func evaluatingTemplates(in context: ExpressionContext) throws(ExpressionError) -> JSONValue {
    switch self {
    case .string(let text):
      guard text.contains("${") else { return self }
      return try Template(text).evaluate(in: context)
    case .array(let values):
      var result: [JSONValue] = []
      for value in values { result.append(try value.evaluatingTemplates(in: context)) }
      return .array(result)
    case .object(let members):
      var result: [String: JSONValue] = [:]
      for (key, value) in members { result[key] = try value.evaluatingTemplates(in: context) }
      return .object(result)
    default:
      return self
    }
  }

  /// Every template in the string leaves, with its JSON path below `path`.
  public func templates(at path: String) -> [(path: String, template: Result<Template, ExpressionError>)] {
    switch self {
    case .string(let text):
      guard text.contains("${") else { return [] }
      return [(path, Result { () throws(ExpressionError) in try Template(text) })]
    case .array(let values):
      return values.enumerated().flatMap { $1.templates(at: "\(path)[\($0)]") }
    case .object(let members):
      return members.keys.sorted().flatMap { members[$0]!.templates(at: "\(path).\($0)") }
    default:
      return []
    }
  }
}
