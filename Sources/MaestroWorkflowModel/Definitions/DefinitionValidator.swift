public import MaestroProtos
import SwiftProtobuf

/// Checks a workflow definition and compiles it. Reports every problem at once, each with the
/// exact path of the field at fault.
///
/// Checks: the name; parameters (names, types, defaults); steps (ids unique and well-formed,
/// known and supported types, the typed spec each type needs); `depends_on` (existing, not
/// self, no duplicates, acyclic — a cycle is reported with its path); every expression parses
/// and reads only steps upstream of it; durations are non-negative; retry policies are sane;
/// switch cases name steps that depend on the switch; the output mapping's expressions parse.
public enum DefinitionValidator {
  /// Most steps a definition may have.
  public static let maximumSteps = 500

  /// Every problem in `definition` (empty when it is valid).
  public static func validate(_ definition: Maestro_Workflow_V1_WorkflowDefinition) -> [DefinitionIssue] {
    switch self.compile(definition) {
    case .success: []
    case .failure(let issues): issues.issues
    }
  }

  /// The issues of an invalid definition.
  public struct Issues: Error, Sendable {
    public var issues: [DefinitionIssue]
  }

  /// The compiled workflow, or every issue found.
  public static func compile(_ definition: Maestro_Workflow_V1_WorkflowDefinition) -> Result<CompiledWorkflow, Issues> {
    var issues: [DefinitionIssue] = []
    func issue(_ path: String, _ message: String, _ code: String) { issues.append(DefinitionIssue(path, message, code: code)) }

    if !Identifiers.isWorkflowName(definition.name) {
      issue("name", "must match [a-z0-9][a-z0-9._-]{0,127}, got '\(definition.name.prefix(140))'", "invalid_name")
    }
    issues += ParameterValidator.validateSpecs(definition.parameters, path: "parameters")
    for (path, duration) in [("run_timeout", definition.runTimeout), ("sla", definition.sla), ("default_step_timeout", definition.defaultStepTimeout)] {
      if let problem = self.durationProblem(duration) { issue(path, problem, "invalid_duration") }
    }
    if definition.hasDefaultRetryPolicy {
      issues += self.validateRetryPolicy(definition.defaultRetryPolicy, path: "default_retry_policy")
    }
    if definition.runStrategy.maxConcurrentRuns < 0 {
      issue("run_strategy.max_concurrent_runs", "must not be negative", "invalid_value")
    } else if definition.runStrategy.maxConcurrentRuns > 0, ![.parallel, .unspecified].contains(definition.runStrategy.mode) {
      issue("run_strategy.max_concurrent_runs", "applies only to the parallel mode", "invalid_value")
    }

    if definition.steps.isEmpty { issue("steps", "a workflow needs at least one step", "no_steps") }
    if definition.steps.count > self.maximumSteps { issue("steps", "at most \(self.maximumSteps) steps", "too_many_steps") }

    // Ids first: everything else refers to them.
    var indexByID: [String: Int] = [:]
    for (index, step) in definition.steps.enumerated() {
      if !Identifiers.isStepID(step.id) {
        issue("steps[\(index)].id", "must match [A-Za-z_][A-Za-z0-9_-]{0,62}, got '\(step.id.prefix(70))'", "invalid_step_id")
      } else if let first = indexByID[step.id] {
        issue("steps[\(index)].id", "duplicate step id '\(step.id)' (first at steps[\(first)])", "duplicate_step_id")
      } else {
        indexByID[step.id] = index
      }
    }

    var dependencies: [String: [String]] = [:]
    for (index, step) in definition.steps.enumerated() where indexByID[step.id] == index {
      var seen: Set<String> = []
      for (position, dependency) in step.dependsOn.enumerated() {
        let path = "steps[\(index)].depends_on[\(position)]"
        if dependency == step.id {
          issue(path, "a step cannot depend on itself", "self_dependency")
        } else if indexByID[dependency] == nil {
          issue(path, "unknown step '\(dependency)'", "unknown_dependency")
        } else if !seen.insert(dependency).inserted {
          issue(path, "'\(dependency)' is listed twice", "duplicate_dependency")
        } else {
          dependencies[step.id, default: []].append(dependency)
        }
      }
    }
    if let cycle = self.findCycle(order: definition.steps.map(\.id), dependencies: dependencies) {
      let first = indexByID[cycle[0]] ?? 0
      issue("steps[\(first)].depends_on", "dependency cycle: \(cycle.joined(separator: " -> "))", "dependency_cycle")
    }
    let upstream = self.upstreamSets(order: definition.steps.map(\.id), dependencies: dependencies)

    var compiled: [String: CompiledWorkflow.CompiledStep] = [:]
    var gatedBy: [String: String] = [:]
    /// Checks one step (a DAG node, or the inner step of a foreach at `path`) and compiles it.
    func compileStep(_ step: Maestro_Workflow_V1_Step, path: String, allowedSteps: Set<String>, inForeach: Bool) -> CompiledWorkflow.CompiledStep? {
      var stepIssues: [DefinitionIssue] = []
      func stepIssue(_ subpath: String, _ message: String, _ code: String) {
        stepIssues.append(DefinitionIssue("\(path).\(subpath)", message, code: code))
      }
      func checkReferences(_ template: Template, _ subpath: String) {
        for expression in template.expressions {
          for referenced in expression.referencedSteps.sorted() where !allowedSteps.contains(referenced) {
            stepIssue(subpath, indexByID[referenced] == nil
              ? "refers to unknown step '\(referenced)'"
              : "refers to step '\(referenced)', which is not upstream (add it to depends_on)", "invalid_reference")
          }
        }
      }
      func checkTemplate(_ text: String, _ subpath: String) -> Template? {
        guard text.contains("${") else { return nil }
        do {
          let template = try Template(text)
          checkReferences(template, subpath)
          return template
        } catch {
          stepIssue(subpath, "invalid expression: \(error)", "invalid_expression")
          return nil
        }
      }

      guard let type = StepType(rawValue: step.type) else {
        stepIssue("type", "unknown step type '\(step.type)' (expected one of \(StepType.allCases.map(\.rawValue).joined(separator: ", ")))", "unknown_step_type")
        issues += stepIssues
        return nil
      }
      if !StepType.supported.contains(type) {
        stepIssue("type", "step type '\(type.rawValue)' is not supported by this engine version (supported: \(StepType.supported.map(\.rawValue).sorted().joined(separator: ", ")))", "unsupported_step_type")
      }
      let input = JSONValue(step.input)
      for (subpath, template) in input.templates(at: "input") {
        switch template {
        case .success(let parsed): checkReferences(parsed, subpath)
        case .failure(let error): stepIssue(subpath, "invalid expression: \(error)", "invalid_expression")
        }
      }
      var when: Template?
      if !step.when.isEmpty {
        let text = step.when.contains("${") ? step.when : "${\(step.when)}"
        when = checkTemplate(text, "when")
      }
      if let problem = self.durationProblem(step.timeout) { stepIssue("timeout", problem, "invalid_duration") }
      if step.hasRetryPolicy { stepIssues += self.validateRetryPolicy(step.retryPolicy, path: "\(path).retry_policy") }

      var cases: [(name: String, condition: Template, steps: [String])] = []
      var sleepDuration: Duration?
      var sleepUntil: Template?
      var failMessage: Template?
      var foreach: CompiledWorkflow.ForEach?
      if inForeach, type == .foreach || type == .switch {
        stepIssue("type", "a foreach iterates one step of any type but foreach and switch (fan out a sub-workflow for more)", "invalid_foreach_step")
      }
      switch type {
      case .switch:
        if !step.hasSwitchSpec || (step.switchSpec.cases.isEmpty && step.switchSpec.defaultSteps.isEmpty) {
          stepIssue("switch", "a switch step needs at least one case", "missing_spec")
        }
        var names: Set<String> = []
        for (position, switchCase) in step.switchSpec.cases.enumerated() {
          let casePath = "switch.cases[\(position)]"
          if switchCase.name.isEmpty || !names.insert(switchCase.name).inserted {
            stepIssue("\(casePath).name", switchCase.name.isEmpty ? "a case needs a name" : "duplicate case name '\(switchCase.name)'", "invalid_case")
          }
          let text = switchCase.condition.contains("${") ? switchCase.condition : "${\(switchCase.condition)}"
          if switchCase.condition.isEmpty {
            stepIssue("\(casePath).condition", "a case needs a condition", "invalid_case")
          } else if let condition = checkTemplate(text, "\(casePath).condition") {
            cases.append((switchCase.name, condition, switchCase.steps))
          }
        }
        let gated = step.switchSpec.cases.enumerated().flatMap { position, switchCase in
          switchCase.steps.enumerated().map { ("switch.cases[\(position)].steps[\($0)]", $1) }
        } + step.switchSpec.defaultSteps.enumerated().map { ("switch.default_steps[\($0)]", $1) }
        for (subpath, target) in gated {
          if indexByID[target] == nil {
            stepIssue(subpath, "unknown step '\(target)'", "unknown_step")
          } else if !(dependencies[target] ?? []).contains(step.id) {
            stepIssue(subpath, "step '\(target)' must list '\(step.id)' in depends_on", "switch_target_not_dependent")
          } else if let other = gatedBy[target], other != step.id {
            stepIssue(subpath, "step '\(target)' is already gated by switch '\(other)'", "switch_target_gated_twice")
          } else {
            gatedBy[target] = step.id
          }
        }
      case .sleep:
        let hasDuration = step.sleep.hasDuration
        let hasUntil = !step.sleep.until.isEmpty
        if hasDuration == hasUntil {
          stepIssue("sleep", "set exactly one of duration and until", "invalid_sleep")
        } else if hasDuration {
          if let problem = self.durationProblem(step.sleep.duration) {
            stepIssue("sleep.duration", problem, "invalid_duration")
          } else {
            sleepDuration = step.sleep.duration.swiftDuration
          }
        } else {
          let text = step.sleep.until.contains("${") ? step.sleep.until : "${\(step.sleep.until)}"
          sleepUntil = checkTemplate(text, "sleep.until")
        }
      case .fail:
        failMessage = step.fail.message.contains("${") ? checkTemplate(step.fail.message, "fail.message") : nil
      case .subworkflow:
        if step.subworkflow.workflowName.wholeMatch(of: /[A-Za-z0-9][A-Za-z0-9._-]{0,127}/) == nil {
          stepIssue("subworkflow.workflow_name", step.subworkflow.workflowName.isEmpty ? "a subworkflow step needs a workflow_name" : "is not a workflow name", "invalid_subworkflow")
        } else if step.subworkflow.workflowName == definition.name {
          stepIssue("subworkflow.workflow_name", "a workflow cannot start itself", "recursive_subworkflow")
        }
        if step.subworkflow.workflowVersion < 0 { stepIssue("subworkflow.workflow_version", "must be 0 (latest) or a version", "invalid_subworkflow") }
      case .task:
        if step.taskQueue.wholeMatch(of: /[A-Za-z0-9][A-Za-z0-9._:-]{0,127}/) == nil {
          stepIssue("task_queue", step.taskQueue.isEmpty ? "a task step needs a task_queue" : "must match [A-Za-z0-9][A-Za-z0-9._:-]{0,127}", "invalid_task_queue")
        }
        if step.hasHeartbeatTimeout, let problem = self.durationProblem(step.heartbeatTimeout) { stepIssue("heartbeat_timeout", problem, "invalid_duration") }
        if step.hasScheduleToStartTimeout, let problem = self.durationProblem(step.scheduleToStartTimeout) {
          stepIssue("schedule_to_start_timeout", problem, "invalid_duration")
        }
      case .http:
        let spec = step.http
        if !step.hasHTTP || spec.url.isEmpty {
          stepIssue("http.url", "an http step needs a url", "missing_spec")
        } else if spec.url.contains("${") {
          _ = checkTemplate(spec.url, "http.url")
        } else if !HTTPStepSpec.isHTTPURL(spec.url) {
          stepIssue("http.url", "must be an absolute http:// or https:// URL", "invalid_url")
        }
        if !spec.method.isEmpty, !HTTPStepSpec.methods.contains(spec.method.uppercased()) {
          stepIssue("http.method", "must be one of \(HTTPStepSpec.methods.sorted().joined(separator: ", "))", "invalid_method")
        }
        for (name, value) in spec.headers.sorted(by: { $0.key < $1.key }) {
          if !HTTPStepSpec.isHeaderName(name) { stepIssue("http.headers.\(name)", "is not a valid header name", "invalid_header") }
          if value.contains("${") { _ = checkTemplate(value, "http.headers.\(name)") }
        }
        for (name, secret) in spec.secretHeaders.sorted(by: { $0.key < $1.key }) {
          if !HTTPStepSpec.isHeaderName(name) { stepIssue("http.secret_headers.\(name)", "is not a valid header name", "invalid_header") }
          if !HTTPStepSpec.isSecretName(secret) {
            stepIssue("http.secret_headers.\(name)", "secret names match [A-Za-z0-9][A-Za-z0-9._-]{0,127}", "invalid_secret_name")
          }
        }
        for (position, status) in spec.expectedStatus.enumerated() where !(100...599).contains(status) {
          stepIssue("http.expected_status[\(position)]", "must be an HTTP status (100 to 599)", "invalid_status")
        }
        if spec.hasBody {
          for (subpath, template) in JSONValue(spec.body).templates(at: "http.body") {
            switch template {
            case .success(let parsed): checkReferences(parsed, subpath)
            case .failure(let error): stepIssue(subpath, "invalid expression: \(error)", "invalid_expression")
            }
          }
        }
      case .waitSignal, .approval:
        let spec = type == .waitSignal ? "wait_signal" : "approval"
        let name = type == .waitSignal ? step.waitSignal.signalName : step.approval.signalName
        if !name.isEmpty, name.wholeMatch(of: /[A-Za-z0-9][A-Za-z0-9._:-]{0,127}/) == nil {
          stepIssue("\(spec).signal_name", "must match [A-Za-z0-9][A-Za-z0-9._:-]{0,127}", "invalid_signal_name")
        }
        let timeout = type == .waitSignal ? step.waitSignal.timeout : step.approval.timeout
        let hasTimeout = type == .waitSignal ? step.waitSignal.hasTimeout : step.approval.hasTimeout
        if hasTimeout, let problem = self.durationProblem(timeout) { stepIssue("\(spec).timeout", problem, "invalid_duration") }
        if type == .approval, step.approval.prompt.contains("${") { _ = checkTemplate(step.approval.prompt, "approval.prompt") }
      case .foreach:
        let spec = step.foreach
        var items: Template?
        if spec.items.isEmpty {
          stepIssue("foreach.items", "a foreach step needs an items expression (a list)", "missing_spec")
        } else {
          items = checkTemplate(spec.items.contains("${") ? spec.items : "${\(spec.items)}", "foreach.items")
        }
        if spec.concurrency < 0 || spec.concurrency > CompiledWorkflow.ForEach.maximumConcurrency {
          stepIssue("foreach.concurrency", "must be 0 (default \(CompiledWorkflow.ForEach.defaultConcurrency)) to \(CompiledWorkflow.ForEach.maximumConcurrency)", "invalid_value")
        }
        if spec.toleratedFailures < 0 {
          stepIssue("foreach.tolerated_failures", "must not be negative", "invalid_value")
        } else if spec.toleratedFailures > 0, spec.failureMode != .tolerate {
          stepIssue("foreach.tolerated_failures", "applies only to failure_mode FOR_EACH_FAILURE_MODE_TOLERATE", "invalid_value")
        }
        if !spec.hasStep {
          stepIssue("foreach.step", "a foreach step needs the step to run per item", "missing_spec")
        } else {
          var inner = spec.step
          inner.id = step.id
          inner.dependsOn = []
          if let compiledInner = compileStep(inner, path: "\(path).foreach.step", allowedSteps: allowedSteps, inForeach: true), let items {
            foreach = CompiledWorkflow.ForEach(
              items: items,
              concurrency: spec.concurrency == 0 ? CompiledWorkflow.ForEach.defaultConcurrency : Int(spec.concurrency),
              toleratedFailures: spec.failureMode == .tolerate ? Int(spec.toleratedFailures) : 0,
              step: compiledInner
            )
          }
        }
      default:
        break
      }
      issues += stepIssues
      let retry = step.hasRetryPolicy ? step.retryPolicy : (definition.hasDefaultRetryPolicy ? definition.defaultRetryPolicy : nil)
      return CompiledWorkflow.CompiledStep(
        id: step.id,
        type: type,
        proto: step,
        dependsOn: dependencies[step.id] ?? [],
        dependents: [],
        input: input,
        when: when,
        retryPolicy: retry.map(RetryPolicy.init) ?? .platformDefault,
        timeout: step.hasTimeout ? step.timeout.swiftDuration : (definition.hasDefaultStepTimeout ? definition.defaultStepTimeout.swiftDuration : nil),
        allowFailure: step.allowFailure,
        cases: cases,
        defaultSteps: step.switchSpec.defaultSteps,
        gatedBy: nil,
        sleepDuration: sleepDuration,
        sleepUntil: sleepUntil,
        failMessage: failMessage,
        foreach: foreach
      )
    }
    for (index, step) in definition.steps.enumerated() where indexByID[step.id] == index {
      if let compiledStep = compileStep(step, path: "steps[\(index)]", allowedSteps: upstream[step.id] ?? [], inForeach: false) {
        compiled[step.id] = compiledStep
      }
    }

    let output = JSONValue(definition.output)
    for (subpath, template) in output.templates(at: "output") {
      switch template {
      case .failure(let error): issue(subpath, "invalid expression: \(error)", "invalid_expression")
      case .success(let parsed):
        for expression in parsed.expressions {
          for referenced in expression.referencedSteps.sorted() where indexByID[referenced] == nil {
            issue(subpath, "refers to unknown step '\(referenced)'", "invalid_reference")
          }
        }
      }
    }

    guard issues.isEmpty else { return .failure(Issues(issues: issues)) }
    for (id, step) in compiled {
      for dependency in step.dependsOn { compiled[dependency]?.dependents.append(id) }
    }
    for (target, gate) in gatedBy { compiled[target]?.gatedBy = gate }
    let order = definition.steps.map(\.id)
    for id in order { compiled[id]?.dependents.sort { order.firstIndex(of: $0)! < order.firstIndex(of: $1)! } }
    return .success(CompiledWorkflow(
      definition: definition,
      steps: compiled,
      order: order,
      output: output,
      runTimeout: definition.hasRunTimeout && definition.runTimeout.swiftDuration > .zero ? definition.runTimeout.swiftDuration : nil,
      sla: definition.hasSla && definition.sla.swiftDuration > .zero ? definition.sla.swiftDuration : nil,
      parameters: definition.parameters
    ))
  }

  static func durationProblem(_ duration: Google_Protobuf_Duration) -> String? {
    if duration.seconds < 0 || duration.nanos < 0 { return "must not be negative" }
    if duration.nanos >= 1_000_000_000 { return "nanos must be below 1e9" }
    if duration.seconds > 366 * 86_400 { return "longer than a year" }
    return nil
  }

  static func validateRetryPolicy(_ policy: Maestro_Workflow_V1_RetryPolicy, path: String) -> [DefinitionIssue] {
    var issues: [DefinitionIssue] = []
    if policy.maxAttempts < 0 || policy.maxAttempts > 100 {
      issues.append(DefinitionIssue("\(path).max_attempts", "must be 0 (default) to 100", code: "invalid_retry_policy"))
    }
    if policy.backoffMultiplier != 0 && policy.backoffMultiplier < 1 || policy.backoffMultiplier > 100 {
      issues.append(DefinitionIssue("\(path).backoff_multiplier", "must be at least 1 (at most 100)", code: "invalid_retry_policy"))
    }
    if policy.jitter < 0 || policy.jitter > 1 {
      issues.append(DefinitionIssue("\(path).jitter", "must be between 0 and 1", code: "invalid_retry_policy"))
    }
    for (name, duration) in [("initial_backoff", policy.initialBackoff), ("max_backoff", policy.maxBackoff)] {
      if let problem = self.durationProblem(duration) {
        issues.append(DefinitionIssue("\(path).\(name)", problem, code: "invalid_duration"))
      }
    }
    for (name, budget) in [
      ("max_user_error_retries", policy.hasMaxUserErrorRetries ? policy.maxUserErrorRetries : 0),
      ("max_platform_error_retries", policy.hasMaxPlatformErrorRetries ? policy.maxPlatformErrorRetries : 0),
      ("max_timeout_retries", policy.hasMaxTimeoutRetries ? policy.maxTimeoutRetries : 0),
    ] where budget < 0 {
      issues.append(DefinitionIssue("\(path).\(name)", "must not be negative", code: "invalid_retry_policy"))
    }
    return issues
  }

  /// A dependency cycle, as a path that starts and ends with the same step, if any.
  static func findCycle(order: [String], dependencies: [String: [String]]) -> [String]? {
    enum Mark { case visiting, done }
    var marks: [String: Mark] = [:]
    var stack: [String] = []
    func visit(_ id: String) -> [String]? {
      if marks[id] == .done { return nil }
      if marks[id] == .visiting {
        let start = stack.firstIndex(of: id)!
        return Array(stack[start...]) + [id]
      }
      marks[id] = .visiting
      stack.append(id)
      for dependency in dependencies[id] ?? [] {
        if let cycle = visit(dependency) { return cycle }
      }
      stack.removeLast()
      marks[id] = .done
      return nil
    }
    for id in order {
      if let cycle = visit(id) { return cycle.reversed() }
    }
    return nil
  }

  /// Each step's transitive dependencies (cycles tolerated: they are reported separately).
  static func upstreamSets(order: [String], dependencies: [String: [String]]) -> [String: Set<String>] {
    var memo: [String: Set<String>] = [:]
    func upstream(_ id: String, _ visiting: inout Set<String>) -> Set<String> {
      if let known = memo[id] { return known }
      guard visiting.insert(id).inserted else { return [] }
      var result: Set<String> = []
      for dependency in dependencies[id] ?? [] {
        result.insert(dependency)
        result.formUnion(upstream(dependency, &visiting))
      }
      visiting.remove(id)
      memo[id] = result
      return result
    }
    for id in order {
      var visiting: Set<String> = []
      _ = upstream(id, &visiting)
    }
    return memo
  }
}
