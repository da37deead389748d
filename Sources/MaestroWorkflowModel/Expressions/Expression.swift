/// A parsed `${...}` expression: paths over `input`, `params`, `steps`, `run` (and `item`,
/// `index` in a foreach), literals, operators and a fixed set of functions. Pure and bounded:
/// no loops, no assignment, at most ``Parser/maximumDepth`` levels of nesting.
public indirect enum Expression: Sendable, Hashable {
  case literal(JSONValue)
  /// A root name: `input`, `params`, `steps`, `run`, `item`, `index`.
  case variable(String)
  /// `base.name`
  case member(Expression, String)
  /// `base[index]`
  case index(Expression, Expression)
  case unary(UnaryOperator, Expression)
  case binary(BinaryOperator, Expression, Expression)
  /// `condition ? then : else`
  case conditional(Expression, Expression, Expression)
  case call(String, [Expression])
  case list([Expression])

  public enum UnaryOperator: String, Sendable, Hashable {
    case not = "!"
    case negate = "-"
  }

  public enum BinaryOperator: String, Sendable, Hashable {
    case or = "||", and = "&&"
    case equal = "==", notEqual = "!="
    case less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
    case add = "+", subtract = "-", multiply = "*", divide = "/", remainder = "%"
  }

  /// The root names an expression may start from.
  public static let roots: Set<String> = ["input", "params", "steps", "run", "item", "index"]

  /// Every `steps.<id>` this expression reads.
  public var referencedSteps: Set<String> {
    var found: Set<String> = []
    self.visit { expression in
      if case .member(.variable("steps"), let id) = expression { found.insert(id) }
      if case .index(.variable("steps"), .literal(.string(let id))) = expression { found.insert(id) }
    }
    return found
  }

  /// Every root variable this expression reads.
  public var referencedRoots: Set<String> {
    var found: Set<String> = []
    self.visit { if case .variable(let name) = $0 { found.insert(name) } }
    return found
  }

  private func visit(_ body: (Expression) -> Void) {
    body(self)
    switch self {
    case .literal, .variable: break
    case .member(let base, _): base.visit(body)
    case .index(let base, let index): base.visit(body); index.visit(body)
    case .unary(_, let operand): operand.visit(body)
    case .binary(_, let lhs, let rhs): lhs.visit(body); rhs.visit(body)
    case .conditional(let condition, let then, let otherwise): condition.visit(body); then.visit(body); otherwise.visit(body)
    case .call(_, let arguments): for argument in arguments { argument.visit(body) }
    case .list(let elements): for element in elements { element.visit(body) }
    }
  }
}

/// An expression that failed to parse or evaluate: where and why.
public struct ExpressionError: Error, Sendable, Hashable, CustomStringConvertible {
  public var message: String
  /// Character offset in the expression source, when known.
  public var offset: Int?

  public init(_ message: String, offset: Int? = nil) {
    self.message = message
    self.offset = offset
  }

  public var description: String {
    self.offset.map { "\(self.message) (at character \($0))" } ?? self.message
  }
}
