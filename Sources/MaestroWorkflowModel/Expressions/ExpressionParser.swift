/// Parses expression source into an ``Expression``.
///
/// Grammar, loosest first: `a ? b : c`; `||`; `&&`; `==` `!=`; `<` `<=` `>` `>=`; `+` `-`;
/// `*` `/` `%`; unary `!` `-`; postfix `.name`, `[index]`, `name(args)`. Literals: numbers,
/// `'strings'` or `"strings"`, `true`, `false`, `null`, `[lists]`.
public struct ExpressionParser {
  /// Longest accepted source, in characters.
  public static let maximumLength = 4096
  /// Deepest accepted nesting.
  public static let maximumDepth = 64

  private var tokens: [ExpressionLexer.Located]
  private var position = 0
  private var depth = 0

  /// Parses `source` (the text between `${` and `}`).
  public static func parse(_ source: String) throws(ExpressionError) -> Expression {
    guard source.count <= self.maximumLength else {
      throw ExpressionError("expression longer than \(self.maximumLength) characters")
    }
    var parser = ExpressionParser(tokens: try ExpressionLexer.tokenize(source))
    guard parser.current.token != .end else { throw ExpressionError("empty expression", offset: 0) }
    let expression = try parser.parseConditional()
    guard parser.current.token == .end else {
      throw ExpressionError("unexpected \(parser.describe(parser.current.token))", offset: parser.current.offset)
    }
    return expression
  }

  private init(tokens: [ExpressionLexer.Located]) { self.tokens = tokens }

  private var current: ExpressionLexer.Located { self.tokens[self.position] }

  private func describe(_ token: ExpressionLexer.Token) -> String {
    switch token {
    case .number(let value): "number \(JSONValue.format(value))"
    case .string: "string"
    case .identifier(let name): "'\(name)'"
    case .symbol(let symbol): "'\(symbol)'"
    case .end: "end of expression"
    }
  }

  private mutating func advance() { if self.position < self.tokens.count - 1 { self.position += 1 } }

  private mutating func accept(_ symbol: String) -> Bool {
    if self.current.token == .symbol(symbol) {
      self.advance()
      return true
    }
    return false
  }

  private mutating func expect(_ symbol: String) throws(ExpressionError) {
    guard self.accept(symbol) else {
      throw ExpressionError("expected '\(symbol)' but found \(self.describe(self.current.token))", offset: self.current.offset)
    }
  }

  private mutating func nested<T>(_ body: (inout ExpressionParser) throws(ExpressionError) -> T) throws(ExpressionError) -> T {
    self.depth += 1
    guard self.depth <= Self.maximumDepth else {
      throw ExpressionError("expression nested deeper than \(Self.maximumDepth)", offset: self.current.offset)
    }
    defer { self.depth -= 1 }
    return try body(&self)
  }

  private mutating func parseConditional() throws(ExpressionError) -> Expression {
    try self.nested { (parser: inout ExpressionParser) throws(ExpressionError) -> Expression in
      let condition = try parser.parseBinary(level: 0)
      guard parser.accept("?") else { return condition }
      let then = try parser.parseConditional()
      try parser.expect(":")
      let otherwise = try parser.parseConditional()
      return .conditional(condition, then, otherwise)
    }
  }

  private static let levels: [[Expression.BinaryOperator]] = [
    [.or], [.and], [.equal, .notEqual], [.less, .lessOrEqual, .greater, .greaterOrEqual],
    [.add, .subtract], [.multiply, .divide, .remainder],
  ]

  private mutating func parseBinary(level: Int) throws(ExpressionError) -> Expression {
    guard level < Self.levels.count else { return try self.parseUnary() }
    var lhs = try self.parseBinary(level: level + 1)
    while case .symbol(let symbol) = self.current.token,
      let op = Self.levels[level].first(where: { $0.rawValue == symbol })
    {
      self.advance()
      let rhs = try self.parseBinary(level: level + 1)
      lhs = .binary(op, lhs, rhs)
    }
    return lhs
  }

  private mutating func parseUnary() throws(ExpressionError) -> Expression {
    if self.accept("!") {
      return try self.nested { (parser: inout ExpressionParser) throws(ExpressionError) in .unary(.not, try parser.parseUnary()) }
    }
    if self.accept("-") {
      return try self.nested { (parser: inout ExpressionParser) throws(ExpressionError) in .unary(.negate, try parser.parseUnary()) }
    }
    return try self.parsePostfix()
  }

  private mutating func parsePostfix() throws(ExpressionError) -> Expression {
    var expression = try self.parsePrimary()
    while true {
      if self.accept(".") {
        guard case .identifier(let name) = self.current.token else {
          throw ExpressionError("expected a name after '.'", offset: self.current.offset)
        }
        self.advance()
        expression = .member(expression, name)
      } else if self.accept("[") {
        let index = try self.parseConditional()
        try self.expect("]")
        expression = .index(expression, index)
      } else {
        return expression
      }
    }
  }

  private mutating func parsePrimary() throws(ExpressionError) -> Expression {
    let located = self.current
    switch located.token {
    case .number(let value):
      self.advance()
      return .literal(.number(value))
    case .string(let value):
      self.advance()
      return .literal(.string(value))
    case .identifier(let name):
      self.advance()
      switch name {
      case "true": return .literal(.bool(true))
      case "false": return .literal(.bool(false))
      case "null": return .literal(.null)
      default: break
      }
      if self.accept("(") {
        guard ExpressionFunctions.names.contains(name) else {
          throw ExpressionError("unknown function '\(name)' (known: \(ExpressionFunctions.names.sorted().joined(separator: ", ")))", offset: located.offset)
        }
        var arguments: [Expression] = []
        if !self.accept(")") {
          repeat { arguments.append(try self.parseConditional()) } while self.accept(",")
          try self.expect(")")
        }
        try ExpressionFunctions.checkArity(name, count: arguments.count, offset: located.offset)
        return .call(name, arguments)
      }
      guard Expression.roots.contains(name) else {
        throw ExpressionError("unknown name '\(name)' (expressions start from \(Expression.roots.sorted().joined(separator: ", ")))", offset: located.offset)
      }
      return .variable(name)
    case .symbol("("):
      self.advance()
      let inner = try self.parseConditional()
      try self.expect(")")
      return inner
    case .symbol("["):
      self.advance()
      var elements: [Expression] = []
      if !self.accept("]") {
        repeat { elements.append(try self.parseConditional()) } while self.accept(",")
        try self.expect("]")
      }
      return .list(elements)
    default:
      throw ExpressionError("unexpected \(self.describe(located.token))", offset: located.offset)
    }
  }
}
