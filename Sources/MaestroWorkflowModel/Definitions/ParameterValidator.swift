public import MaestroProtos
import SwiftProtobuf

/// Checks parameter declarations, and values against them (run inputs, template parameters).
public enum ParameterValidator {
  /// Problems with the declarations themselves.
  public static func validateSpecs(_ specs: [Maestro_Workflow_V1_ParameterSpec], path: String) -> [DefinitionIssue] {
    var issues: [DefinitionIssue] = []
    var names: Set<String> = []
    for (index, spec) in specs.enumerated() {
      let specPath = "\(path)[\(index)]"
      if !Identifiers.isParameterName(spec.name) {
        issues.append(DefinitionIssue("\(specPath).name", "must match [A-Za-z_][A-Za-z0-9_]*, got '\(spec.name.prefix(70))'", code: "invalid_parameter_name"))
      } else if !names.insert(spec.name).inserted {
        issues.append(DefinitionIssue("\(specPath).name", "duplicate parameter '\(spec.name)'", code: "duplicate_parameter"))
      }
      if spec.type == .unspecified {
        issues.append(DefinitionIssue("\(specPath).type", "a parameter needs a type", code: "invalid_parameter_type"))
      }
      if !spec.validation.pattern.isEmpty, (try? Regex(spec.validation.pattern)) == nil {
        issues.append(DefinitionIssue("\(specPath).validation.pattern", "invalid regular expression", code: "invalid_pattern"))
      }
      if spec.hasDefaultValue {
        if spec.required {
          issues.append(DefinitionIssue("\(specPath).default_value", "a required parameter cannot have a default", code: "required_with_default"))
        } else if spec.type != .unspecified {
          issues += self.check(JSONValue(spec.defaultValue), against: spec, path: "\(specPath).default_value")
        }
      }
    }
    return issues
  }

  /// The values with defaults applied, or every violation (undeclared names included).
  public static func apply(
    _ specs: [Maestro_Workflow_V1_ParameterSpec],
    to values: JSONValue,
    path: String
  ) -> Result<JSONValue, DefinitionValidator.Issues> {
    guard case .object(var members) = values else {
      return .failure(.init(issues: [DefinitionIssue(path, "must be an object", code: "invalid_type")]))
    }
    var issues: [DefinitionIssue] = []
    let declared = Set(specs.map(\.name))
    for name in members.keys.sorted() where !declared.contains(name) {
      issues.append(DefinitionIssue("\(path).\(name)", "is not a declared parameter", code: "undeclared_parameter"))
    }
    for spec in specs {
      let valuePath = "\(path).\(spec.name)"
      guard let value = members[spec.name], value != .null else {
        if spec.required {
          issues.append(DefinitionIssue(valuePath, "is required", code: "required"))
        } else if spec.hasDefaultValue {
          members[spec.name] = JSONValue(spec.defaultValue)
        }
        continue
      }
      issues += self.check(value, against: spec, path: valuePath)
    }
    return issues.isEmpty ? .success(.object(members)) : .failure(.init(issues: issues))
  }

  /// Violations of `spec` by `value`.
  static func check(_ value: JSONValue, against spec: Maestro_Workflow_V1_ParameterSpec, path: String) -> [DefinitionIssue] {
    var issues: [DefinitionIssue] = []
    guard self.matches(value, spec.type) else {
      return [DefinitionIssue(path, "expected \(self.describe(spec.type)), got \(value.typeName)", code: "invalid_type")]
    }
    let rules = spec.validation
    if !rules.allowedValues.isEmpty {
      let allowed = rules.allowedValues.map(JSONValue.init)
      let listed = "must be one of \(allowed.map(\.jsonText).joined(separator: ", "))"
      // A LIST whose allowed values are not lists: each item must be one of them.
      if case .array(let items) = value, !allowed.contains(where: { if case .array = $0 { true } else { false } }) {
        for (index, item) in items.enumerated() where !allowed.contains(item) {
          issues.append(DefinitionIssue("\(path)[\(index)]", listed, code: "not_allowed"))
        }
      } else if !allowed.contains(value) {
        issues.append(DefinitionIssue(path, listed, code: "not_allowed"))
      }
    }
    issues += self.scalarIssues(value, rules, path: path)
    if case .array(let items) = value {
      if rules.hasMinItems, items.count < rules.minItems { issues.append(DefinitionIssue(path, "needs at least \(rules.minItems) items", code: "too_few_items")) }
      if rules.hasMaxItems, items.count > rules.maxItems { issues.append(DefinitionIssue(path, "allows at most \(rules.maxItems) items", code: "too_many_items")) }
      for (index, item) in items.enumerated() {
        if spec.itemType != .unspecified, !self.matches(item, spec.itemType) {
          issues.append(DefinitionIssue("\(path)[\(index)]", "expected \(self.describe(spec.itemType)), got \(item.typeName)", code: "invalid_type"))
        } else {
          // The number and string rules of a LIST apply to each item.
          issues += self.scalarIssues(item, rules, path: "\(path)[\(index)]")
        }
      }
    }
    return issues
  }

  /// Violations of the number rules (minimum, maximum) or string rules (length, pattern).
  private static func scalarIssues(_ value: JSONValue, _ rules: Maestro_Workflow_V1_ParameterValidation, path: String) -> [DefinitionIssue] {
    var issues: [DefinitionIssue] = []
    if case .number(let number) = value {
      if rules.hasMinimum, number < rules.minimum { issues.append(DefinitionIssue(path, "must be at least \(JSONValue.format(rules.minimum))", code: "too_small")) }
      if rules.hasMaximum, number > rules.maximum { issues.append(DefinitionIssue(path, "must be at most \(JSONValue.format(rules.maximum))", code: "too_large")) }
    }
    if case .string(let text) = value {
      if rules.hasMinLength, text.count < rules.minLength { issues.append(DefinitionIssue(path, "must be at least \(rules.minLength) characters", code: "too_short")) }
      if rules.hasMaxLength, text.count > rules.maxLength { issues.append(DefinitionIssue(path, "must be at most \(rules.maxLength) characters", code: "too_long")) }
      if !rules.pattern.isEmpty, let regex = try? Regex(rules.pattern), text.wholeMatch(of: regex) == nil {
        issues.append(DefinitionIssue(path, "must match \(rules.pattern)", code: "pattern_mismatch"))
      }
    }
    return issues
  }

  static func matches(_ value: JSONValue, _ type: Maestro_Workflow_V1_ParameterType) -> Bool {
    switch (type, value) {
    case (.unspecified, _): true
    case (.string, .string), (.number, .number), (.boolean, .bool), (.object, .object), (.list, .array): true
    case (.integer, .number): value.isInteger
    default: false
    }
  }

  static func describe(_ type: Maestro_Workflow_V1_ParameterType) -> String {
    switch type {
    case .string: "a string"
    case .integer: "an integer"
    case .number: "a number"
    case .boolean: "a boolean"
    case .object: "an object"
    case .list: "a list"
    default: "a value"
    }
  }
}
