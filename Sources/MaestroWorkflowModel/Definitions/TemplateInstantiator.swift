public import MaestroProtos

/// Checks parametric templates and turns them into concrete workflow definitions.
///
/// A template's `definition` may read its parameters as `${params.<name>}` wherever an
/// expression is allowed, and in the plain string fields (names, task queues, signal names,
/// labels, descriptions), where a params-only `${...}` is replaced by its text.
///
/// Registration is checked without parameter values: the body goes through
/// ``DefinitionValidator`` as it is (`params` is a known expression root, so every expression
/// is parsed and every step reference checked), and every `params` reference must name a
/// declared parameter. Only the literal-syntax checks of plain fields that hold a `params`
/// reference (say `task_queue: "${params.queue}"`) are deferred: they cannot be decided before
/// the value is known. Instantiation then validates the concrete definition in full, so a
/// workflow made from a template is checked exactly like a registered one.
public enum TemplateInstantiator {
  /// Label set on instantiated workflows: the template's name.
  public static let templateLabel = "maestro.template"
  /// Label set on instantiated workflows: the template's version.
  public static let templateVersionLabel = "maestro.template-version"

  /// Every problem with `template` (empty when it can be registered). Paths are relative to
  /// the template: `name`, `parameters[1].type`, `definition.steps[0].input.x`.
  public static func validate(_ template: Maestro_Workflow_V1_Template) -> [DefinitionIssue] {
    var issues: [DefinitionIssue] = []
    if !Identifiers.isWorkflowName(template.name) {
      issues.append(DefinitionIssue("name", "must match [a-z0-9][a-z0-9._-]{0,127}, got '\(template.name.prefix(140))'", code: "invalid_name"))
    }
    issues += ParameterValidator.validateSpecs(template.parameters, path: "parameters")
    guard template.hasDefinition else {
      return issues + [DefinitionIssue("definition", "a template needs a definition", code: "missing_definition")]
    }
    var body = template.definition
    if body.name.isEmpty { body.name = template.name }
    var check = ParameterSubstitution(mode: .check(declared: Set(template.parameters.map(\.name))))
    check.definition(&body)
    issues += check.issues.map(self.inDefinition)
    let deferred = check.deferredPaths
    issues += DefinitionValidator.validate(body).filter { issue in
      !deferred.contains { issue.path == $0 || issue.path.hasPrefix("\($0).") || issue.path.hasPrefix("\($0)[") }
    }.map(self.inDefinition)
    return issues
  }

  /// The concrete definition for `parameters` (an object of values by name), or every issue:
  /// parameter violations at `parameters.<name>` (list items at `parameters.<name>[i]`),
  /// problems of the resulting definition at `definition.<path>`.
  ///
  /// - Parameters:
  ///   - workflowName: the concrete workflow's name; empty = the definition's name (or, when
  ///     that is empty, the template's).
  public static func instantiate(
    _ template: Maestro_Workflow_V1_Template,
    parameters: JSONValue,
    workflowName: String = ""
  ) -> Result<Maestro_Workflow_V1_WorkflowDefinition, DefinitionValidator.Issues> {
    var issues: [DefinitionIssue] = []
    if !workflowName.isEmpty, !Identifiers.isWorkflowName(workflowName) {
      issues.append(DefinitionIssue("workflow_name", "must match [a-z0-9][a-z0-9._-]{0,127}, got '\(workflowName.prefix(140))'", code: "invalid_name"))
    }
    let values: JSONValue
    switch ParameterValidator.apply(template.parameters, to: parameters, path: "parameters") {
    case .success(let applied): values = applied
    case .failure(let failure): return .failure(.init(issues: issues + failure.issues))
    }
    guard issues.isEmpty else { return .failure(.init(issues: issues)) }

    var definition = template.definition
    var substitution = ParameterSubstitution(mode: .substitute(values))
    substitution.definition(&definition)
    guard substitution.issues.isEmpty else { return .failure(.init(issues: substitution.issues.map(self.inDefinition))) }
    if !workflowName.isEmpty {
      definition.name = workflowName
    } else if definition.name.isEmpty {
      definition.name = template.name
    }
    definition.version = 0
    definition.labels[self.templateLabel] = template.name
    definition.labels[self.templateVersionLabel] = String(template.version)

    // What remains must be a valid workflow that reads no template parameter.
    var leftover = ParameterSubstitution(mode: .check(declared: []))
    leftover.definition(&definition)
    issues += leftover.issues.map { DefinitionIssue("definition.\($0.path)", "still reads a template parameter after substitution", code: "unresolved_parameter") }
    issues += DefinitionValidator.validate(definition).map(self.inDefinition)
    return issues.isEmpty ? .success(definition) : .failure(.init(issues: issues))
  }

  private static func inDefinition(_ issue: DefinitionIssue) -> DefinitionIssue {
    DefinitionIssue("definition.\(issue.path)", issue.message, code: issue.code)
  }
}
