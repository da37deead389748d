public import Foundation

/// What expressions can see: the run's input, template parameters, finished steps, run facts,
/// and in a foreach the current item and index.
public struct ExpressionContext: Sendable {
  public var input: JSONValue
  public var params: JSONValue
  /// `steps.<id>` → `{"output": …, "status": "COMPLETED", "error": …}`.
  public var steps: [String: JSONValue]
  /// `run.id`, `run.started_at`, `run.workflow`, `run.attempt` …
  public var run: JSONValue
  public var item: JSONValue?
  public var index: Int?
  /// What `now()` returns.
  public var now: Date

  public init(
    input: JSONValue = .object([:]),
    params: JSONValue = .object([:]),
    steps: [String: JSONValue] = [:],
    run: JSONValue = .object([:]),
    item: JSONValue? = nil,
    index: Int? = nil,
    now: Date = Date()
  ) {
    self.input = input
    self.params = params
    self.steps = steps
    self.run = run
    self.item = item
    self.index = index
    self.now = now
  }
}

extension Expression {
  /// Evaluates the expression. Missing members and out-of-range indexes yield null (use
  /// `default()`); type mismatches throw.
  public func evaluate(in context: ExpressionContext) throws(ExpressionError) -> JSONValue {
    switch self {
    case .literal(let value):
      return value
    case .variable(let name):
      switch name {
      case "input": return context.input
      case "params": return context.params
      case "steps": return .object(context.steps)
      case "run": return context.run
      case "item": return context.item ?? .null
      case "index": return context.index.map { .number(Double($0)) } ?? .null
      default: throw ExpressionError("unknown name '\(name)'")
      }
    case .member(let base, let name):
      let value = try base.evaluate(in: context)
      switch value {
      case .object(let members): return members[name] ?? .null
      case .null: return .null
      default: throw ExpressionError("cannot read '.\(name)' of a \(value.typeName)")
      }
    case .index(let base, let indexExpression):
      let value = try base.evaluate(in: context)
      let index = try indexExpression.evaluate(in: context)
      switch (value, index) {
      case (.array(let values), .number(let position)):
        guard position.rounded() == position else { throw ExpressionError("list index \(position) is not a whole number") }
        let resolved = position < 0 ? values.count + Int(position) : Int(position)
        return values.indices.contains(resolved) ? values[resolved] : .null
      case (.object(let members), .string(let key)):
        return members[key] ?? .null
      case (.null, _):
        return .null
      default:
        throw ExpressionError("cannot index a \(value.typeName) with a \(index.typeName)")
      }
    case .unary(.not, let operand):
      return .bool(!(try operand.evaluate(in: context)).isTruthy)
    case .unary(.negate, let operand):
      guard case .number(let value) = try operand.evaluate(in: context) else { throw ExpressionError("'-' needs a number") }
      return .number(-value)
    case .binary(let op, let lhs, let rhs):
      return try Self.binary(op, lhs, rhs, context: context)
    case .conditional(let condition, let then, let otherwise):
      return try (condition.evaluate(in: context).isTruthy ? then : otherwise).evaluate(in: context)
    case .call(let name, let arguments):
      var values: [JSONValue] = []
      for argument in arguments { values.append(try argument.evaluate(in: context)) }
      return try ExpressionFunctions.call(name, values, context: context)
    case .list(let elements):
      var values: [JSONValue] = []
      for element in elements { values.append(try element.evaluate(in: context)) }
      return .array(values)
    }
  }

  private static func binary(
    _ op: BinaryOperator,
    _ lhsExpression: Expression,
    _ rhsExpression: Expression,
    context: ExpressionContext
  ) throws(ExpressionError) -> JSONValue {
    // Short-circuit: the right side is not evaluated when the left decides.
    if op == .and || op == .or {
      let lhs = try lhsExpression.evaluate(in: context)
      if op == .and, !lhs.isTruthy { return .bool(false) }
      if op == .or, lhs.isTruthy { return .bool(true) }
      return .bool(try rhsExpression.evaluate(in: context).isTruthy)
    }
    let lhs = try lhsExpression.evaluate(in: context)
    let rhs = try rhsExpression.evaluate(in: context)
    switch op {
    case .equal: return .bool(lhs == rhs)
    case .notEqual: return .bool(lhs != rhs)
    case .less, .lessOrEqual, .greater, .greaterOrEqual:
      let order: Int
      switch (lhs, rhs) {
      case (.number(let a), .number(let b)): order = a < b ? -1 : (a > b ? 1 : 0)
      case (.string(let a), .string(let b)): order = a < b ? -1 : (a > b ? 1 : 0)
      default: throw ExpressionError("cannot compare \(lhs.typeName) with \(rhs.typeName)")
      }
      switch op {
      case .less: return .bool(order < 0)
      case .lessOrEqual: return .bool(order <= 0)
      case .greater: return .bool(order > 0)
      default: return .bool(order >= 0)
      }
    case .add:
      switch (lhs, rhs) {
      case (.number(let a), .number(let b)): return try Self.finite(a + b)
      case (.array(let a), .array(let b)): return .array(a + b)
      case (.string, _), (_, .string):
        let text = lhs.interpolated + rhs.interpolated
        guard text.count <= ExpressionFunctions.maximumStringLength else { throw ExpressionError("string too long") }
        return .string(text)
      default: throw ExpressionError("cannot add \(lhs.typeName) and \(rhs.typeName)")
      }
    case .subtract, .multiply, .divide, .remainder:
      guard case .number(let a) = lhs, case .number(let b) = rhs else {
        throw ExpressionError("'\(op.rawValue)' needs numbers, got \(lhs.typeName) and \(rhs.typeName)")
      }
      switch op {
      case .subtract: return try Self.finite(a - b)
      case .multiply: return try Self.finite(a * b)
      case .divide:
        guard b != 0 else { throw ExpressionError("division by zero") }
        return .number(a / b)
      default:
        guard b != 0 else { throw ExpressionError("division by zero") }
        return .number(a.truncatingRemainder(dividingBy: b))
      }
    case .and, .or:
      return .null
    }
  }

  private static func finite(_ value: Double) throws(ExpressionError) -> JSONValue {
    guard value.isFinite else { throw ExpressionError("number out of range") }
    return .number(value)
  }
}
