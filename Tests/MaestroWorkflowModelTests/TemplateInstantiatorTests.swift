import Foundation
import MaestroProtos
import MaestroWorkflowModel
import SwiftProtobuf
import Testing

func template(_ json: String) throws -> Maestro_Workflow_V1_Template {
  try Maestro_Workflow_V1_Template(jsonString: json)
}

@Suite("Template instantiation")
struct TemplateInstantiatorTests {
  static let report = """
    {"name": "report", "version": 3,
     "parameters": [
       {"name": "region", "type": "PARAMETER_TYPE_STRING", "required": true, "validation": {"allowedValues": ["eu", "us"]}},
       {"name": "limit", "type": "PARAMETER_TYPE_INTEGER", "defaultValue": 10, "validation": {"minimum": 1, "maximum": 100}},
       {"name": "threshold", "type": "PARAMETER_TYPE_NUMBER", "defaultValue": 0.5},
       {"name": "tags", "type": "PARAMETER_TYPE_LIST", "itemType": "PARAMETER_TYPE_STRING", "defaultValue": ["a"]},
       {"name": "enabled", "type": "PARAMETER_TYPE_BOOLEAN", "defaultValue": true},
       {"name": "queue", "type": "PARAMETER_TYPE_STRING", "defaultValue": "demo.uppercase"},
       {"name": "config", "type": "PARAMETER_TYPE_OBJECT", "defaultValue": {"url": "http://127.0.0.1:9/x", "n": 2}},
       {"name": "note", "type": "PARAMETER_TYPE_STRING", "defaultValue": "plain"}
     ],
     "definition": {
       "name": "report-${params.region}",
       "description": "Report for ${params.region}",
       "labels": {"region": "${params.region}"},
       "steps": [
         {"id": "fetch", "type": "http", "http": {"url": "${params.config.url}?limit=${params.limit}", "headers": {"x-region": "${params.region}"},
          "body": {"tags": "${params.tags}", "config": "${params.config}", "mixed": "${params.region}-${run.id}"}}},
         {"id": "work", "type": "task", "taskQueue": "${params.queue}", "dependsOn": ["fetch"],
          "when": "params.enabled && steps.fetch.output.status == 200",
          "input": {"limit": "${params.limit}", "over": "${steps.fetch.output.body.score > params.threshold}", "n": "${params.config.n * 2}",
                    "note": "${params.note}", "count": "${length(params.tags)}", "at": "${now()}"}},
         {"id": "gate", "type": "switch", "dependsOn": ["work"],
          "switch": {"cases": [{"name": "big", "condition": "${params.limit > 50}", "steps": ["big"]}], "defaultSteps": []}},
         {"id": "big", "type": "noop", "dependsOn": ["gate"]}
       ],
       "output": {"region": "${params.region}", "limit": "${params.limit}"}
     }}
    """

  @Test("a valid template validates; the concrete workflow has typed values, literals, folded text and no params")
  func instantiates() throws {
    let report = try template(Self.report)
    #expect(TemplateInstantiator.validate(report).isEmpty)
    let definition = try TemplateInstantiator.instantiate(report, parameters: ["region": "eu", "limit": 60, "note": "${input.secret}"]).get()
    #expect(definition.name == "report-eu")
    #expect(definition.description_p == "Report for eu")
    #expect(definition.labels == ["region": "eu", "maestro.template": "report", "maestro.template-version": "3"])
    let fetch = definition.steps[0].http
    #expect(fetch.url == "http://127.0.0.1:9/x?limit=60")
    #expect(fetch.headers["x-region"] == "eu")
    #expect(JSONValue(fetch.body) == ["tags": ["a"], "config": ["url": "http://127.0.0.1:9/x", "n": 2], "mixed": "eu-${run.id}"])
    let work = definition.steps[1]
    #expect(work.taskQueue == "demo.uppercase")
    #expect(work.when == "true && steps.fetch.output.status == 200")
    #expect(JSONValue(work.input) == [
      "limit": 60, "over": "${steps.fetch.output.body.score > 0.5}", "n": 4,
      // A parameter value is data: a "${" in it is escaped, never evaluated.
      "note": "$${input.secret}", "count": 1, "at": "${now()}",
    ])
    #expect(definition.steps[2].switchSpec.cases[0].condition == "${true}")
    #expect(JSONValue(definition.output) == ["region": "eu", "limit": 60])
    #expect(DefinitionValidator.validate(definition).isEmpty)
    #expect(!(try definition.jsonString()).contains("params"))
  }

  @Test("the workflow name comes from the request, else the definition, else the template")
  func names() throws {
    var report = try template(Self.report)
    #expect(try TemplateInstantiator.instantiate(report, parameters: ["region": "us"], workflowName: "custom").get().name == "custom")
    report.definition.name = ""
    #expect(try TemplateInstantiator.instantiate(report, parameters: ["region": "us"]).get().name == "report")
    let bad = TemplateInstantiator.instantiate(report, parameters: ["region": "us"], workflowName: "Not Valid")
    #expect(Self.paths(bad) == ["workflow_name"])
  }

  @Test("every parameter violation is reported at once, each with its path")
  func everyViolation() throws {
    let spec = try template("""
      {"name": "all-rules", "parameters": [
        {"name": "required_one", "type": "PARAMETER_TYPE_STRING", "required": true},
        {"name": "kind", "type": "PARAMETER_TYPE_STRING", "validation": {"allowedValues": ["a", "b"]}},
        {"name": "low", "type": "PARAMETER_TYPE_NUMBER", "validation": {"minimum": 0}},
        {"name": "high", "type": "PARAMETER_TYPE_INTEGER", "validation": {"maximum": 10}},
        {"name": "code", "type": "PARAMETER_TYPE_STRING", "validation": {"pattern": "[a-z]+"}},
        {"name": "short", "type": "PARAMETER_TYPE_STRING", "validation": {"minLength": 3}},
        {"name": "long", "type": "PARAMETER_TYPE_STRING", "validation": {"maxLength": 2}},
        {"name": "few", "type": "PARAMETER_TYPE_LIST", "validation": {"minItems": 2}},
        {"name": "many", "type": "PARAMETER_TYPE_LIST", "validation": {"maxItems": 1}},
        {"name": "sources", "type": "PARAMETER_TYPE_LIST", "itemType": "PARAMETER_TYPE_STRING", "validation": {"pattern": "https?://.+"}},
        {"name": "types", "type": "PARAMETER_TYPE_LIST", "validation": {"allowedValues": ["person", "place"]}},
        {"name": "flag", "type": "PARAMETER_TYPE_BOOLEAN"},
        {"name": "whole", "type": "PARAMETER_TYPE_INTEGER"}
      ], "definition": {"name": "all-rules", "steps": [{"id": "a", "type": "noop"}]}}
      """)
    let result = TemplateInstantiator.instantiate(spec, parameters: [
      "kind": "c", "low": -1, "high": 11, "code": "ABC", "short": "ab", "long": "abc", "few": [1], "many": [1, 2],
      "sources": ["http://a", "ftp://b", 3], "types": ["person", "thing"], "flag": "yes", "whole": 1.5, "extra": 1,
    ])
    #expect(Self.paths(result) == [
      "parameters.code", "parameters.extra", "parameters.few", "parameters.flag", "parameters.high", "parameters.kind",
      "parameters.long", "parameters.low", "parameters.many", "parameters.required_one", "parameters.short",
      "parameters.sources[1]", "parameters.sources[2]", "parameters.types[1]", "parameters.whole",
    ])
    let codes = Set(Self.issues(result).map(\.code))
    #expect(codes.isSuperset(of: ["required", "not_allowed", "too_small", "too_large", "pattern_mismatch", "too_short", "too_long",
                                 "too_few_items", "too_many_items", "invalid_type", "undeclared_parameter"]))
  }

  @Test("registration rejects undeclared parameters and invalid bodies, with paths; literal-syntax checks of templated names wait for the values")
  func registrationChecks() throws {
    let bad = try template("""
      {"name": "Bad Name", "parameters": [{"name": "x", "type": "PARAMETER_TYPE_UNSPECIFIED"}, {"name": "x", "type": "PARAMETER_TYPE_STRING"}],
       "definition": {"name": "t", "steps": [
         {"id": "a", "type": "echo", "input": {"v": "${params.nope}", "w": "${params[input.k]}"}},
         {"id": "b", "type": "teleport", "dependsOn": ["ghost"]},
         {"id": "c", "type": "task", "taskQueue": "${params.x}", "when": "params.missing"}
       ]}}
      """)
    let issues = TemplateInstantiator.validate(bad)
    #expect(Set(issues.map(\.path)) == [
      "name", "parameters[0].type", "parameters[1].name",
      "definition.steps[0].input.v", "definition.steps[0].input.w",
      "definition.steps[1].type", "definition.steps[1].depends_on[0]", "definition.steps[2].when",
    ])
    #expect(issues.contains { $0.code == "undeclared_parameter" && $0.message.contains("'nope'") })
    #expect(issues.contains { $0.code == "invalid_parameter_reference" })
    #expect(!issues.contains { $0.path == "definition.steps[2].task_queue" }, "checked once the value is known")

    // The deferred check happens at instantiation.
    let queue = try template("""
      {"name": "q", "parameters": [{"name": "queue", "type": "PARAMETER_TYPE_STRING", "required": true}],
       "definition": {"name": "q", "steps": [{"id": "c", "type": "task", "taskQueue": "${params.queue}"}]}}
      """)
    #expect(TemplateInstantiator.validate(queue).isEmpty)
    #expect(Self.paths(TemplateInstantiator.instantiate(queue, parameters: ["queue": "not a queue!"])) == ["definition.steps[0].task_queue"])
    #expect((try? TemplateInstantiator.instantiate(queue, parameters: ["queue": "ok.queue"]).get().steps[0].taskQueue) == "ok.queue")
  }

  @Test("values that break an expression, or objects an expression cannot spell, are reported at their path")
  func substitutionErrors() throws {
    let spec = try template("""
      {"name": "s", "parameters": [{"name": "name", "type": "PARAMETER_TYPE_STRING"}, {"name": "obj", "type": "PARAMETER_TYPE_OBJECT"}],
       "definition": {"name": "s", "steps": [
         {"id": "a", "type": "echo", "input": {"n": "${params.name * 2}"}},
         {"id": "b", "type": "echo", "when": "${params.obj}"}
       ]}}
      """)
    #expect(TemplateInstantiator.validate(spec).isEmpty)
    let result = TemplateInstantiator.instantiate(spec, parameters: ["name": "x", "obj": ["k": 1]])
    #expect(Self.paths(result) == ["definition.steps[0].input.n", "definition.steps[1].when"])
    #expect(Set(Self.issues(result).map(\.code)) == ["invalid_expression", "unrepresentable_value"])
  }

  @Test("text is escaped for the engine: a value ending in '$' before an expression, and '${' in values")
  func escaping() throws {
    let spec = try template("""
      {"name": "e", "parameters": [{"name": "p", "type": "PARAMETER_TYPE_STRING"}],
       "definition": {"name": "e", "steps": [{"id": "a", "type": "echo", "input": {"v": "${params.p}${run.id}", "w": "x ${params.p} y"}}]}}
      """)
    let definition = try TemplateInstantiator.instantiate(spec, parameters: ["p": "cost $"]).get()
    let input = JSONValue(definition.steps[0].input)
    let context = ExpressionContext(run: ["id": "r1"])
    #expect(try input.evaluatingTemplates(in: context) == ["v": "cost $r1", "w": "x cost $ y"])
    let injected = try TemplateInstantiator.instantiate(spec, parameters: ["p": "${run.id}"]).get()
    #expect(try JSONValue(injected.steps[0].input).evaluatingTemplates(in: context) == ["v": "${run.id}r1", "w": "x ${run.id} y"])
  }

  static func issues(_ result: Result<Maestro_Workflow_V1_WorkflowDefinition, DefinitionValidator.Issues>) -> [DefinitionIssue] {
    if case .failure(let failure) = result { return failure.issues }
    return []
  }

  static func paths(_ result: Result<Maestro_Workflow_V1_WorkflowDefinition, DefinitionValidator.Issues>) -> [String] {
    Array(Set(self.issues(result).map(\.path))).sorted()
  }
}
