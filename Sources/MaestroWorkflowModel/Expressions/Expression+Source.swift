extension Expression {
  /// Source text that ``ExpressionParser`` parses back to an equivalent expression (the text
  /// between `${` and `}`).
  ///
  /// Parentheses are added only where precedence needs them; binary operators are written with
  /// spaces (names may contain `-`, so `a-1` would read as one name). A list literal value is
  /// written as a list expression and a negative number as `(-n)`: both evaluate to the same
  /// value. Throws for an object value, which the expression language cannot spell.
  public func source() throws(ExpressionError) -> String {
    var text = ""
    try self.write(to: &text, minimumLevel: Level.conditional)
    return text
  }

  /// Binding strength, loosest first (the parser's grammar levels).
  private enum Level {
    static let conditional = 0
    static let unary = 7
    static let postfix = 8
    static let primary = 9

    static func of(_ op: BinaryOperator) -> Int {
      switch op {
      case .or: 1
      case .and: 2
      case .equal, .notEqual: 3
      case .less, .lessOrEqual, .greater, .greaterOrEqual: 4
      case .add, .subtract: 5
      case .multiply, .divide, .remainder: 6
      }
    }
  }

  private var level: Int {
    switch self {
    case .conditional: Level.conditional
    case .binary(let op, _, _): Level.of(op)
    case .unary: Level.unary
    case .member, .index: Level.postfix
    case .literal(.number(let value)) where value < 0: Level.unary
    case .literal, .variable, .call, .list: Level.primary
    }
  }

  private func write(to text: inout String, minimumLevel: Int) throws(ExpressionError) {
    let parenthesised = self.level < minimumLevel
    if parenthesised { text += "(" }
    switch self {
    case .literal(let value):
      try Self.writeLiteral(value, to: &text)
    case .variable(let name):
      text += name
    case .member(let base, let name):
      try Self.writeBase(base, to: &text)
      if Self.isName(name) {
        text += ".\(name)"
      } else {
        text += "["
        Self.writeString(name, to: &text)
        text += "]"
      }
    case .index(let base, let index):
      try Self.writeBase(base, to: &text)
      text += "["
      try index.write(to: &text, minimumLevel: Level.conditional)
      text += "]"
    case .unary(let op, let operand):
      text += op.rawValue
      try operand.write(to: &text, minimumLevel: Level.unary)
    case .binary(let op, let lhs, let rhs):
      // Left-associative: an operand of the same level needs parentheses only on the right.
      try lhs.write(to: &text, minimumLevel: Level.of(op))
      text += " \(op.rawValue) "
      try rhs.write(to: &text, minimumLevel: Level.of(op) + 1)
    case .conditional(let condition, let then, let otherwise):
      try condition.write(to: &text, minimumLevel: Level.conditional + 1)
      text += " ? "
      try then.write(to: &text, minimumLevel: Level.conditional)
      text += " : "
      try otherwise.write(to: &text, minimumLevel: Level.conditional)
    case .call(let name, let arguments):
      text += "\(name)("
      for (position, argument) in arguments.enumerated() {
        if position > 0 { text += ", " }
        try argument.write(to: &text, minimumLevel: Level.conditional)
      }
      text += ")"
    case .list(let elements):
      text += "["
      for (position, element) in elements.enumerated() {
        if position > 0 { text += ", " }
        try element.write(to: &text, minimumLevel: Level.conditional)
      }
      text += "]"
    }
    if parenthesised { text += ")" }
  }

  /// The base of `.name` / `[index]`: a number literal needs parentheses (`(3).x`, not `3.x`).
  private static func writeBase(_ base: Expression, to text: inout String) throws(ExpressionError) {
    if case .literal(.number) = base {
      text += "("
      try base.write(to: &text, minimumLevel: Level.conditional)
      text += ")"
    } else {
      try base.write(to: &text, minimumLevel: Level.postfix)
    }
  }

  private static func writeLiteral(_ value: JSONValue, to text: inout String) throws(ExpressionError) {
    switch value {
    case .null: text += "null"
    case .bool(let flag): text += flag ? "true" : "false"
    case .number(let number):
      // The lexer reads no sign: a negative number is a negation.
      text += number < 0 ? "-\(JSONValue.format(-number))" : JSONValue.format(number)
    case .string(let string): self.writeString(string, to: &text)
    case .array(let values):
      text += "["
      for (position, element) in values.enumerated() {
        if position > 0 { text += ", " }
        try self.writeLiteral(element, to: &text)
      }
      text += "]"
    case .object:
      throw ExpressionError("an object value cannot be written in an expression (use one of its members)")
    }
  }

  /// A single-quoted string literal with the lexer's escapes.
  private static func writeString(_ string: String, to text: inout String) {
    text += "'"
    for character in string {
      switch character {
      case "\\": text += "\\\\"
      case "'": text += "\\'"
      case "\n": text += "\\n"
      case "\t": text += "\\t"
      default: text.append(character)
      }
    }
    text += "'"
  }

  /// Whether `name` lexes as one identifier, so it can follow a `.`.
  static func isName(_ name: String) -> Bool {
    guard let first = name.first, first.isLetter || first == "_", name.last != "-" else { return false }
    return name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
  }
}
