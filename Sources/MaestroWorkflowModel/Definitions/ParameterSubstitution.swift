import MaestroProtos
import SwiftProtobuf

/// Walks every string of a template's definition body that may hold `${params.*}`, either to
/// check the references (registration) or to replace them by parameter values (instantiation).
///
/// Each string has a kind, which decides how a substituted value is written back:
/// - `plain`: a field the engine does not evaluate (names, queues, labels, descriptions): every
///   `${...}` that reads only `params` is folded into the text, so `task_queue:
///   "${params.queue}"` becomes the queue's name.
/// - `template`: a string the engine evaluates as a template (an http URL or header, a fail
///   message, an approval prompt): a part that yields a string is folded into the text, other
///   values stay expressions (`${42}`).
/// - `expression`: a field whose value's type matters and that may be a bare expression
///   (`when`, switch conditions, `sleep.until`, `foreach.items`): values stay expressions.
/// - JSON values (step input, http body, output): a leaf that is exactly one `${...}` reading
///   only `params` becomes the typed value; other leaves are `template`s.
///
/// Inside an expression, every largest subexpression that reads only `params` (and does not call
/// `now()`) is evaluated and replaced by its literal, so no `params` reference remains. Text
/// that ends up in an evaluated string is escaped (`${` → `$${`): a parameter value is data and
/// can never inject an expression.
struct ParameterSubstitution {
  enum Mode {
    /// Registration: check that each reference names a declared parameter.
    case check(declared: Set<String>)
    /// Instantiation: replace the references by these values.
    case substitute(JSONValue)
  }

  enum Kind {
    case plain, template, expression
  }

  let mode: Mode
  private(set) var issues: [DefinitionIssue] = []
  /// Paths (relative to the definition) of fields that are not evaluated and hold a `params`
  /// reference: their literal syntax can be checked only once the values are substituted.
  private(set) var deferredPaths: Set<String> = []

  init(mode: Mode) { self.mode = mode }

  // MARK: The definition's fields

  mutating func definition(_ definition: inout Maestro_Workflow_V1_WorkflowDefinition) {
    self.string(&definition.name, .plain, "name")
    self.string(&definition.description_p, .plain, "description")
    for key in definition.labels.keys.sorted() {
      var value = definition.labels[key] ?? ""
      self.string(&value, .plain, "labels.\(key)")
      definition.labels[key] = value
    }
    for index in definition.parameters.indices {
      let path = "parameters[\(index)]"
      self.string(&definition.parameters[index].description_p, .plain, "\(path).description")
      if definition.parameters[index].hasDefaultValue {
        self.protobufValue(&definition.parameters[index].defaultValue, evaluated: false, "\(path).default_value")
      }
      for position in definition.parameters[index].validation.allowedValues.indices {
        self.protobufValue(&definition.parameters[index].validation.allowedValues[position], evaluated: false, "\(path).validation.allowed_values[\(position)]")
      }
    }
    for index in definition.steps.indices { self.step(&definition.steps[index], "steps[\(index)]") }
    if definition.hasOutput { self.protobufStruct(&definition.output, "output") }
  }

  mutating func step(_ step: inout Maestro_Workflow_V1_Step, _ path: String) {
    self.string(&step.description_p, .plain, "\(path).description")
    if step.hasInput { self.protobufStruct(&step.input, "\(path).input") }
    self.string(&step.when, .expression, "\(path).when")
    self.string(&step.taskQueue, .plain, "\(path).task_queue")
    if step.hasSleep { self.string(&step.sleep.until, .expression, "\(path).sleep.until") }
    if step.hasSwitchSpec {
      for index in step.switchSpec.cases.indices {
        self.string(&step.switchSpec.cases[index].name, .plain, "\(path).switch.cases[\(index)].name")
        self.string(&step.switchSpec.cases[index].condition, .expression, "\(path).switch.cases[\(index)].condition")
      }
    }
    if step.hasFail { self.string(&step.fail.message, .template, "\(path).fail.message") }
    if step.hasHTTP {
      self.string(&step.http.method, .plain, "\(path).http.method")
      self.string(&step.http.url, .template, "\(path).http.url")
      for name in step.http.headers.keys.sorted() {
        var value = step.http.headers[name] ?? ""
        self.string(&value, .template, "\(path).http.headers.\(name)")
        step.http.headers[name] = value
      }
      for name in step.http.secretHeaders.keys.sorted() {
        var value = step.http.secretHeaders[name] ?? ""
        self.string(&value, .plain, "\(path).http.secret_headers.\(name)")
        step.http.secretHeaders[name] = value
      }
      if step.http.hasBody { self.protobufValue(&step.http.body, evaluated: true, "\(path).http.body") }
    }
    if step.hasSubworkflow { self.string(&step.subworkflow.workflowName, .plain, "\(path).subworkflow.workflow_name") }
    if step.hasForeach {
      self.string(&step.foreach.items, .expression, "\(path).foreach.items")
      if step.foreach.hasStep { self.step(&step.foreach.step, "\(path).foreach.step") }
    }
    if step.hasWaitSignal { self.string(&step.waitSignal.signalName, .plain, "\(path).wait_signal.signal_name") }
    if step.hasApproval {
      self.string(&step.approval.signalName, .plain, "\(path).approval.signal_name")
      self.string(&step.approval.prompt, .template, "\(path).approval.prompt")
      for index in step.approval.approvers.indices {
        self.string(&step.approval.approvers[index], .plain, "\(path).approval.approvers[\(index)]")
      }
    }
  }

  // MARK: JSON values

  private mutating func protobufStruct(_ object: inout Google_Protobuf_Struct, _ path: String) {
    var value = JSONValue(object)
    if self.value(&value, evaluated: true, path) { object = value.protobufStruct }
  }

  private mutating func protobufValue(_ protobuf: inout Google_Protobuf_Value, evaluated: Bool, _ path: String) {
    var value = JSONValue(protobuf)
    if self.value(&value, evaluated: evaluated, path) { protobuf = value.protobufValue }
  }

  /// Returns whether `value` changed. `evaluated`: the engine evaluates its string leaves as
  /// templates (step input, http body, output), unlike parameter defaults.
  private mutating func value(_ value: inout JSONValue, evaluated: Bool, _ path: String) -> Bool {
    switch value {
    case .string(var text):
      guard text.contains("${"), let template = try? Template(text), Self.readsParams(template) else { return false }
      if case .substitute(let params) = self.mode, template.parts.count == 1, case .expression(let expression, _) = template.parts[0],
        Self.readsOnlyParams(expression)
      {
        do {
          let result = try expression.evaluate(in: ExpressionContext(params: params))
          value = evaluated ? Self.escaped(result) : result
        } catch {
          self.issues.append(DefinitionIssue(path, "cannot evaluate with the given parameters: \(error)", code: "invalid_expression"))
        }
        return true
      }
      self.string(&text, evaluated ? .template : .plain, path)
      value = .string(text)
      return true
    case .array(var values):
      var changed = false
      for index in values.indices where self.value(&values[index], evaluated: evaluated, "\(path)[\(index)]") { changed = true }
      if changed { value = .array(values) }
      return changed
    case .object(var members):
      var changed = false
      for key in members.keys.sorted() {
        var member = members[key]!
        if self.value(&member, evaluated: evaluated, "\(path).\(key)") {
          members[key] = member
          changed = true
        }
      }
      if changed { value = .object(members) }
      return changed
    default:
      return false
    }
  }

  // MARK: Strings

  /// Checks or substitutes the `params` references of one string field.
  mutating func string(_ text: inout String, _ kind: Kind, _ path: String) {
    guard !text.isEmpty else { return }
    if kind == .expression, !text.contains("${") {
      // A bare expression (`when: "params.enabled && ..."`).
      guard let expression = try? ExpressionParser.parse(text), expression.referencedRoots.contains("params") else { return }
      switch self.mode {
      case .check(let declared):
        self.checkReferences(expression, declared: declared, path)
      case .substitute(let params):
        if let folded = self.fold(expression, params: params, path), let source = self.render(folded, path) { text = source }
      }
      return
    }
    // Unparsable templates are left alone: the definition validator reports them where the
    // engine evaluates them.
    guard text.contains("${"), let template = try? Template(text), Self.readsParams(template) else { return }
    switch self.mode {
    case .check(let declared):
      for expression in template.expressions { self.checkReferences(expression, declared: declared, path) }
      if kind == .plain { self.deferredPaths.insert(path) }
    case .substitute(let params):
      var parts: [Template.Part] = []
      for part in template.parts {
        guard case .expression(let expression, _) = part, expression.referencedRoots.contains("params") else {
          parts.append(part)
          continue
        }
        guard let folded = self.fold(expression, params: params, path) else { return }
        if case .literal(let value) = folded {
          // Text around expressions makes a string anyway: the value joins the text as the
          // engine would interpolate it.
          let isString: Bool = if case .string = value { true } else { false }
          if kind == .plain || template.parts.count > 1 || (kind == .template && isString) {
            parts.append(.text(value.interpolated))
            continue
          }
        }
        guard let source = self.render(folded, path) else { return }
        parts.append(.expression(folded, source: source))
      }
      text = Self.write(parts, escaping: kind != .plain)
    }
  }

  /// Writes template parts back as a string: adjacent text joined, and (for evaluated strings)
  /// `${` in text escaped as `$${`.
  static func write(_ parts: [Template.Part], escaping: Bool) -> String {
    var result = ""
    var text = ""
    func flush() {
      result += escaping ? text.replacingOccurrences(of: "${", with: "$${") : text
      text = ""
    }
    for part in parts {
      switch part {
      case .text(let literal):
        text += literal
      case .expression(_, let source):
        flush()
        // "$${" would read as an escaped "${": spell a trailing "$" as an expression.
        if escaping, result.hasSuffix("$") {
          result.removeLast()
          result += "${'$'}"
        }
        result += "${\(source)}"
      }
    }
    flush()
    return result
  }

  /// Every string leaf with `${` escaped, so the engine reads it as text.
  static func escaped(_ value: JSONValue) -> JSONValue {
    switch value {
    case .string(let text): text.contains("${") ? .string(text.replacingOccurrences(of: "${", with: "$${")) : value
    case .array(let values): .array(values.map(self.escaped))
    case .object(let members): .object(members.mapValues(self.escaped))
    default: value
    }
  }

  // MARK: Expressions

  private static func readsParams(_ template: Template) -> Bool {
    template.expressions.contains { $0.referencedRoots.contains("params") }
  }

  /// Reads `params` and nothing else that varies at run time.
  static func readsOnlyParams(_ expression: Expression) -> Bool {
    expression.referencedRoots == ["params"] && !expression.callsNow
  }

  /// `expression` with each largest params-only subexpression replaced by its value.
  private mutating func fold(_ expression: Expression, params: JSONValue, _ path: String) -> Expression? {
    do {
      return try expression.folding(params: params)
    } catch {
      self.issues.append(DefinitionIssue(path, "cannot evaluate with the given parameters: \(error)", code: "invalid_expression"))
      return nil
    }
  }

  private mutating func render(_ expression: Expression, _ path: String) -> String? {
    do {
      return try expression.source()
    } catch {
      self.issues.append(DefinitionIssue(path, "\(error)", code: "unrepresentable_value"))
      return nil
    }
  }

  private mutating func checkReferences(_ expression: Expression, declared: Set<String>, _ path: String) {
    var names: [String] = []
    var dynamic = false
    expression.collectParameterReferences(into: &names, dynamic: &dynamic)
    if dynamic {
      self.issues.append(DefinitionIssue(path, "template parameters are read as params.<name>", code: "invalid_parameter_reference"))
    }
    for name in Set(names).sorted() where !declared.contains(name) {
      self.issues.append(DefinitionIssue(path, "refers to undeclared template parameter '\(name)'", code: "undeclared_parameter"))
    }
  }
}

extension Expression {
  /// Whether `now()` is called anywhere in the expression.
  var callsNow: Bool {
    switch self {
    case .literal, .variable: false
    case .member(let base, _): base.callsNow
    case .index(let base, let index): base.callsNow || index.callsNow
    case .unary(_, let operand): operand.callsNow
    case .binary(_, let lhs, let rhs): lhs.callsNow || rhs.callsNow
    case .conditional(let condition, let then, let otherwise): condition.callsNow || then.callsNow || otherwise.callsNow
    case .call(let name, let arguments): name == "now" || arguments.contains { $0.callsNow }
    case .list(let elements): elements.contains { $0.callsNow }
    }
  }

  /// Each largest subexpression that reads only `params` replaced by its value.
  func folding(params: JSONValue) throws(ExpressionError) -> Expression {
    if ParameterSubstitution.readsOnlyParams(self) {
      return .literal(try self.evaluate(in: ExpressionContext(params: params)))
    }
    switch self {
    case .literal, .variable:
      return self
    case .member(let base, let name):
      return .member(try base.folding(params: params), name)
    case .index(let base, let index):
      return .index(try base.folding(params: params), try index.folding(params: params))
    case .unary(let op, let operand):
      return .unary(op, try operand.folding(params: params))
    case .binary(let op, let lhs, let rhs):
      return .binary(op, try lhs.folding(params: params), try rhs.folding(params: params))
    case .conditional(let condition, let then, let otherwise):
      return .conditional(try condition.folding(params: params), try then.folding(params: params), try otherwise.folding(params: params))
    case .call(let name, let arguments):
      var folded: [Expression] = []
      for argument in arguments { folded.append(try argument.folding(params: params)) }
      return .call(name, folded)
    case .list(let elements):
      var folded: [Expression] = []
      for element in elements { folded.append(try element.folding(params: params)) }
      return .list(folded)
    }
  }

  /// The parameter names read as `params.<name>` or `params['<name>']`; `dynamic` is set when
  /// `params` is read any other way.
  func collectParameterReferences(into names: inout [String], dynamic: inout Bool) {
    switch self {
    case .member(.variable("params"), let name), .index(.variable("params"), .literal(.string(let name))):
      names.append(name)
    case .variable("params"):
      dynamic = true
    case .literal, .variable:
      break
    case .member(let base, _):
      base.collectParameterReferences(into: &names, dynamic: &dynamic)
    case .index(let base, let index):
      base.collectParameterReferences(into: &names, dynamic: &dynamic)
      index.collectParameterReferences(into: &names, dynamic: &dynamic)
    case .unary(_, let operand):
      operand.collectParameterReferences(into: &names, dynamic: &dynamic)
    case .binary(_, let lhs, let rhs):
      lhs.collectParameterReferences(into: &names, dynamic: &dynamic)
      rhs.collectParameterReferences(into: &names, dynamic: &dynamic)
    case .conditional(let condition, let then, let otherwise):
      for part in [condition, then, otherwise] { part.collectParameterReferences(into: &names, dynamic: &dynamic) }
    case .call(_, let arguments):
      for argument in arguments { argument.collectParameterReferences(into: &names, dynamic: &dynamic) }
    case .list(let elements):
      for element in elements { element.collectParameterReferences(into: &names, dynamic: &dynamic) }
    }
  }
}
