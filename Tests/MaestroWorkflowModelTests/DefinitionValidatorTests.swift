import MaestroProtos
import MaestroWorkflowModel
import SwiftProtobuf
import Testing

func definition(_ json: String) throws -> Maestro_Workflow_V1_WorkflowDefinition {
  try Maestro_Workflow_V1_WorkflowDefinition(jsonString: json)
}

@Suite("Definition validation")
struct DefinitionValidatorTests {
  @Test("a valid DAG compiles with its dependents indexed")
  func valid() throws {
    let workflow = try DefinitionValidator.compile(definition("""
      {"name": "hello-world", "sla": "30s",
       "parameters": [{"name": "who", "type": "PARAMETER_TYPE_STRING", "defaultValue": "world"}],
       "steps": [
         {"id": "start", "type": "echo", "input": {"greeting": "hello ${input.who}"}},
         {"id": "left", "type": "noop", "dependsOn": ["start"]},
         {"id": "right", "type": "transform", "dependsOn": ["start"], "input": {"n": "${length(steps.start.output.greeting)}"}},
         {"id": "nap", "type": "sleep", "dependsOn": ["left", "right"], "sleep": {"duration": "0.1s"}}
       ],
       "output": {"greeting": "${steps.start.output.greeting}"}}
      """)).get()
    #expect(workflow.order == ["start", "left", "right", "nap"])
    #expect(workflow.steps["start"]?.dependents == ["left", "right"])
    #expect(workflow.sla == .seconds(30))
    #expect(workflow.steps["nap"]?.sleepDuration == .milliseconds(100))
  }

  @Test(
    "rejects each problem with the exact path",
    arguments: [
      (#"{"name": "Bad Name", "steps": [{"id": "a", "type": "noop"}]}"#, "name", "invalid_name"),
      (#"{"name": "w", "steps": []}"#, "steps", "no_steps"),
      (#"{"name": "w", "steps": [{"id": "a", "type": "teleport"}]}"#, "steps[0].type", "unknown_step_type"),
      (#"{"name": "w", "steps": [{"id": "a", "type": "task"}]}"#, "steps[0].task_queue", "invalid_task_queue"),
      (#"{"name": "w", "steps": [{"id": "a", "type": "foreach"}]}"#, "steps[0].foreach.items", "missing_spec"),
      (#"{"name": "w", "steps": [{"id": "a", "type": "noop"}, {"id": "a", "type": "noop"}]}"#, "steps[1].id", "duplicate_step_id"),
      (#"{"name": "w", "steps": [{"id": "1a", "type": "noop"}]}"#, "steps[0].id", "invalid_step_id"),
      (#"{"name": "w", "steps": [{"id": "a", "type": "noop", "dependsOn": ["ghost"]}]}"#, "steps[0].depends_on[0]", "unknown_dependency"),
      (#"{"name": "w", "steps": [{"id": "a", "type": "noop", "dependsOn": ["a"]}]}"#, "steps[0].depends_on[0]", "self_dependency"),
      (#"{"name": "w", "steps": [{"id": "a", "type": "noop", "dependsOn": ["b"]}, {"id": "b", "type": "noop", "dependsOn": ["c"]}, {"id": "c", "type": "noop", "dependsOn": ["a"]}]}"#, "steps[0].depends_on", "dependency_cycle"),
      (#"{"name": "w", "steps": [{"id": "a", "type": "echo", "input": {"x": "${input.}"}}]}"#, "steps[0].input.x", "invalid_expression"),
      (#"{"name": "w", "steps": [{"id": "a", "type": "echo", "input": {"x": "${steps.b.output}"}}, {"id": "b", "type": "noop"}]}"#, "steps[0].input.x", "invalid_reference"),
      (#"{"name": "w", "steps": [{"id": "a", "type": "noop", "when": "input.x =="}]}"#, "steps[0].when", "invalid_expression"),
      (#"{"name": "w", "steps": [{"id": "a", "type": "noop", "timeout": "-1s"}]}"#, "steps[0].timeout", "invalid_duration"),
      (#"{"name": "w", "steps": [{"id": "a", "type": "sleep", "sleep": {}}]}"#, "steps[0].sleep", "invalid_sleep"),
      (#"{"name": "w", "steps": [{"id": "a", "type": "noop", "retryPolicy": {"backoffMultiplier": 0.5}}]}"#, "steps[0].retry_policy.backoff_multiplier", "invalid_retry_policy"),
      (#"{"name": "w", "parameters": [{"name": "n", "type": "PARAMETER_TYPE_INTEGER", "defaultValue": "x"}], "steps": [{"id": "a", "type": "noop"}]}"#, "parameters[0].default_value", "invalid_type"),
      (#"{"name": "w", "parameters": [{"name": "n"}], "steps": [{"id": "a", "type": "noop"}]}"#, "parameters[0].type", "invalid_parameter_type"),
      (#"{"name": "w", "steps": [{"id": "s", "type": "switch", "switch": {"cases": [{"name": "x", "condition": "true", "steps": ["b"]}]}}, {"id": "b", "type": "noop"}]}"#, "steps[0].switch.cases[0].steps[0]", "switch_target_not_dependent"),
      (#"{"name": "w", "steps": [{"id": "a", "type": "noop"}], "output": {"o": "${steps.zz.output}"}}"#, "output.o", "invalid_reference"),
    ]
  )
  func rejects(json: String, path: String, code: String) throws {
    let issues = DefinitionValidator.validate(try definition(json))
    #expect(issues.contains { $0.path == path && $0.code == code }, "\(issues)")
  }

  @Test("reports every problem at once")
  func allAtOnce() throws {
    let issues = DefinitionValidator.validate(try definition(#"""
      {"name": "BAD", "steps": [{"id": "a", "type": "nope"}, {"id": "b", "type": "noop", "dependsOn": ["zz"]}]}
      """#))
    #expect(Set(issues.map(\.path)) == ["name", "steps[0].type", "steps[1].depends_on[0]"])
  }

  @Test("parameters: defaults applied, every violation reported with its path")
  func parameters() throws {
    let specs = try definition(#"""
      {"name": "w", "steps": [{"id": "a", "type": "noop"}], "parameters": [
        {"name": "sources", "type": "PARAMETER_TYPE_LIST", "required": true, "itemType": "PARAMETER_TYPE_STRING", "validation": {"minItems": 1}},
        {"name": "confidence", "type": "PARAMETER_TYPE_NUMBER", "defaultValue": 0.8, "validation": {"minimum": 0, "maximum": 1}},
        {"name": "mode", "type": "PARAMETER_TYPE_STRING", "validation": {"allowedValues": ["fast", "full"], "pattern": "[a-z]+"}}
      ]}
      """#).parameters
    let applied = try ParameterValidator.apply(specs, to: ["sources": ["a"]], path: "input").get()
    #expect(applied == ["sources": ["a"], "confidence": 0.8])

    guard case .failure(let failure) = ParameterValidator.apply(specs, to: ["sources": [1], "confidence": 2, "mode": "slow", "extra": 1], path: "input") else {
      Issue.record("expected violations")
      return
    }
    #expect(Set(failure.issues.map(\.path)) == ["input.sources[0]", "input.confidence", "input.mode", "input.extra"])
    guard case .failure(let missing) = ParameterValidator.apply(specs, to: [:], path: "input") else { return }
    #expect(missing.issues.map(\.code) == ["required"])
  }
}
