import Foundation
import GRPCCore
import GRPCInProcessTransport
import MaestroProtos
import MaestroTestSupport
@testable import MaestroWorkflow
import MaestroWorkflowModel
import SwiftProtobuf
import Testing

@Suite("Parametric templates over gRPC (real Postgres)")
struct TemplateTests {
  static let greeting = """
    name: greeting
    description: Greets someone
    labels: {team: docs}
    parameters:
      - {name: who, type: PARAMETER_TYPE_STRING, required: true, validation: {pattern: "[A-Za-z ]+", max_length: 20}}
      - {name: times, type: PARAMETER_TYPE_INTEGER, default_value: 2, validation: {minimum: 1, maximum: 5}}
      - {name: shout, type: PARAMETER_TYPE_BOOLEAN, default_value: false}
    definition:
      name: greeting
      parameters: [{name: suffix, type: PARAMETER_TYPE_STRING, default_value: "!"}]
      steps:
        - {id: greet, type: echo, input: {text: "hello ${params.who}${input.suffix}", times: "${params.times}"}}
        - id: loud
          type: transform
          depends_on: [greet]
          when: "params.shout"
          input: {text: "${upper(steps.greet.output.text)}"}
      output: {text: "${steps.greet.output.text}", times: "${steps.greet.output.times}", loud: "${steps.loud.output.text}"}
    """

  static func register(_ harness: EngineHarness, _ yaml: String, tenant: String = "acme") async throws -> Maestro_Workflow_V1_RegisterTemplateResponse {
    let template = try TemplateLoader.template(yaml: yaml)
    return try await harness.workflows.registerTemplate(.with { $0.template = template }, metadata: try await harness.auth(tenant: tenant))
  }

  static func instantiate(
    _ harness: EngineHarness,
    _ name: String,
    _ parameters: JSONValue,
    mode: Maestro_Workflow_V1_InstantiateMode = .unspecified,
    tenant: String = "acme",
    configure: (inout Maestro_Workflow_V1_InstantiateTemplateRequest) -> Void = { _ in }
  ) async throws -> Maestro_Workflow_V1_InstantiateTemplateResponse {
    var request = Maestro_Workflow_V1_InstantiateTemplateRequest()
    request.templateName = name
    request.parameters = parameters.protobufStruct
    request.mode = mode
    configure(&request)
    return try await harness.workflows.instantiateTemplate(request, metadata: try await harness.auth(tenant: tenant))
  }

  @Test("register, re-register unchanged (created=false), register a change (version 2), get by version, list with paging")
  func registerGetList() async throws {
    try await EngineHarness.with { harness in
      let first = try await Self.register(harness, Self.greeting)
      #expect(first.created)
      #expect(first.template.version == 1)
      #expect(first.template.contentHash.count == 64)
      #expect(first.template.meta.tenant == "acme")
      #expect(first.template.meta.createdBy == "tester")
      #expect(first.template.parameters.map(\.name) == ["who", "times", "shout"])
      #expect(first.template.labels == ["team": "docs"])

      let again = try await Self.register(harness, Self.greeting)
      #expect(!again.created)
      #expect(again.template.version == 1)
      #expect(again.template.contentHash == first.template.contentHash)

      let changed = try await Self.register(harness, Self.greeting.replacingOccurrences(of: "Greets someone", with: "Greets anyone"))
      #expect(changed.created)
      #expect(changed.template.version == 2)
      #expect(changed.template.contentHash != first.template.contentHash)

      let metadata = try await harness.auth()
      #expect(try await harness.workflows.getTemplate(.with { $0.name = "greeting" }, metadata: metadata).template.version == 2)
      let v1 = try await harness.workflows.getTemplate(.with { $0.name = "greeting"; $0.version = 1 }, metadata: metadata).template
      #expect(v1.description_p == "Greets someone")
      #expect(v1.definition.steps.count == 2)
      #expect(v1.definition.steps[0].input == first.template.definition.steps[0].input)
      let missing = await #expect(throws: RPCError.self) {
        try await harness.workflows.getTemplate(.with { $0.name = "greeting"; $0.version = 3 }, metadata: metadata)
      }
      #expect(missing?.code == .notFound)
      let negative = await #expect(throws: RPCError.self) {
        try await harness.workflows.getTemplate(.with { $0.name = "greeting"; $0.version = -1 }, metadata: metadata)
      }
      #expect(negative?.code == .invalidArgument)

      for name in ["alpha-1", "alpha-2", "beta"] {
        _ = try await Self.register(harness, Self.greeting.replacingOccurrences(of: "name: greeting\ndescription", with: "name: \(name)\ndescription"))
      }
      var names: [String] = []
      var versions: [Int32] = []
      var token = ""
      var pages = 0
      repeat {
        let page = try await harness.workflows.listTemplates(.with { $0.pageSize = 2; $0.pageToken = token }, metadata: metadata)
        names += page.templates.map(\.name)
        versions += page.templates.map(\.version)
        token = page.nextPageToken
        pages += 1
      } while !token.isEmpty
      #expect(names == ["alpha-1", "alpha-2", "beta", "greeting"])
      #expect(versions == [1, 1, 1, 2], "the latest version of each")
      #expect(pages == 2)
      let prefixed = try await harness.workflows.listTemplates(.with { $0.namePrefix = "alpha" }, metadata: metadata)
      #expect(prefixed.templates.map(\.name) == ["alpha-1", "alpha-2"])
      let badToken = await #expect(throws: RPCError.self) {
        try await harness.workflows.listTemplates(.with { $0.pageToken = "not-a-token" }, metadata: metadata)
      }
      #expect(badToken?.code == .invalidArgument)
    }
  }

  @Test("invalid templates are rejected with INVALID_ARGUMENT naming every issue's path")
  func invalidTemplates() async throws {
    try await EngineHarness.with { harness in
      let error = await #expect(throws: RPCError.self) {
        try await Self.register(harness, """
          name: Bad_Name
          parameters:
            - {name: "1x", type: PARAMETER_TYPE_STRING}
            - {name: n, type: PARAMETER_TYPE_INTEGER, required: true, default_value: 3}
          definition:
            name: bad
            steps:
              - {id: a, type: echo, input: {v: "${params.ghost}"}}
              - {id: b, type: noop, depends_on: [a, nowhere]}
              - {id: c, type: echo, input: {v: "${steps.b.output}"}}
          """)
      }
      #expect(error?.code == .invalidArgument)
      let message = error?.message ?? ""
      for path in ["name:", "parameters[0].name:", "parameters[1].default_value:", "definition.steps[0].input.v:", "definition.steps[1].depends_on[1]:",
                   "definition.steps[2].input.v:"] {
        #expect(message.contains(path), "\(path) in \(message)")
      }
      #expect(error.map { Array($0.metadata[stringValues: "maestro-field"]) } == ["name"])
      let missing = await #expect(throws: RPCError.self) {
        try await harness.workflows.registerTemplate(.with { $0.template.name = "empty" }, metadata: try await harness.auth())
      }
      #expect(missing?.message.contains("definition: a template needs a definition") == true)
    }
  }

  @Test("VALIDATE_ONLY reports every parameter violation at once, with paths, and stores nothing")
  func validateOnly() async throws {
    try await EngineHarness.with { harness in
      _ = try await Self.register(harness, Self.greeting)
      let bad = try await Self.instantiate(harness, "greeting", ["who": "R2-D2 the droid of the rebellion", "times": 9, "shout": "yes", "colour": "red"], mode: .validateOnly)
      #expect(!bad.hasWorkflow)
      #expect(bad.issues.map(\.path).sorted() == ["parameters.colour", "parameters.shout", "parameters.times", "parameters.who", "parameters.who"])
      #expect(Set(bad.issues.map(\.code)) == ["undeclared_parameter", "invalid_type", "too_large", "pattern_mismatch", "too_long"])
      let missing = try await Self.instantiate(harness, "greeting", [:], mode: .validateOnly)
      #expect(missing.issues.map(\.path) == ["parameters.who"])
      #expect(missing.issues.first?.code == "required")
      let good = try await Self.instantiate(harness, "greeting", ["who": "Ada"], mode: .validateOnly)
      #expect(good.issues.isEmpty)
      #expect(!good.hasWorkflow)
      let listed = try await harness.workflows.listWorkflows(.init(), metadata: try await harness.auth())
      #expect(listed.workflows.isEmpty, "VALIDATE_ONLY stores nothing")
    }
  }

  @Test("REGISTER (the default mode) registers the labelled concrete workflow, idempotently; bad parameters are INVALID_ARGUMENT")
  func register() async throws {
    try await EngineHarness.with { harness in
      _ = try await Self.register(harness, Self.greeting)
      let first = try await Self.instantiate(harness, "greeting", ["who": "Ada"])
      #expect(first.workflow.definition.name == "greeting")
      #expect(first.workflow.definition.version == 1)
      #expect(first.workflow.definition.labels == ["maestro.template": "greeting", "maestro.template-version": "1"])
      #expect(JSONValue(first.workflow.definition.steps[0].input) == ["text": "hello Ada${input.suffix}", "times": 2])
      #expect(first.workflow.definition.steps[1].when == "false")
      #expect(!first.hasRun)
      let again = try await Self.instantiate(harness, "greeting", ["who": "Ada"], mode: .register)
      #expect(again.workflow.definition.version == 1, "an unchanged instantiation is not a new version")
      let other = try await Self.instantiate(harness, "greeting", ["who": "Grace"], mode: .register)
      #expect(other.workflow.definition.version == 2)
      let named = try await Self.instantiate(harness, "greeting", ["who": "Alan"]) { $0.workflowName = "greet-alan" }
      #expect(named.workflow.definition.name == "greet-alan")
      // Found by label like any workflow.
      let labelled = try await harness.workflows.listWorkflows(.with { $0.labels = ["maestro.template": "greeting"] }, metadata: try await harness.auth())
      #expect(labelled.workflows.map(\.definition.name) == ["greet-alan", "greeting"])

      let error = await #expect(throws: RPCError.self) { try await Self.instantiate(harness, "greeting", ["who": "x1", "times": 0]) }
      #expect(error?.code == .invalidArgument)
      #expect(error?.message.contains("parameters.who:") == true && error?.message.contains("parameters.times:") == true)
      let badName = await #expect(throws: RPCError.self) {
        try await Self.instantiate(harness, "greeting", ["who": "Ada"]) { $0.workflowName = "Bad Name" }
      }
      #expect(badName.map { Array($0.metadata[stringValues: "maestro-field"]) } == ["workflow_name"])
      let unknown = await #expect(throws: RPCError.self) { try await Self.instantiate(harness, "nope", [:]) }
      #expect(unknown?.code == .notFound)
      let version = await #expect(throws: RPCError.self) {
        try await Self.instantiate(harness, "greeting", ["who": "Ada"]) { $0.templateVersion = 7 }
      }
      #expect(version?.code == .notFound)
    }
  }

  @Test("START_RUN registers and starts a run through StartRun (idempotency key honoured) that completes with the values")
  func startRun() async throws {
    try await EngineHarness.with { harness in
      _ = try await Self.register(harness, Self.greeting)
      let started = try await Self.instantiate(harness, "greeting", ["who": "Ada", "shout": true], mode: .startRun) {
        $0.input = JSONValue.object(["suffix": "?"]).protobufStruct
        $0.idempotencyKey = "greet-ada-1"
        $0.runLabels = ["origin": "template-test"]
      }
      #expect(started.workflow.definition.version == 1)
      #expect(started.run.workflowName == "greeting")
      #expect(started.run.labels["origin"] == "template-test")
      let run = try await harness.waitForTerminal(started.run.id)
      #expect(run.status == .completed, "\(run.error.message)")
      #expect(JSONValue(run.output) == ["text": "hello Ada?", "times": 2, "loud": "HELLO ADA?"])
      let again = try await Self.instantiate(harness, "greeting", ["who": "Ada", "shout": true], mode: .startRun) {
        $0.input = JSONValue.object(["suffix": "?"]).protobufStruct
        $0.idempotencyKey = "greet-ada-1"
      }
      #expect(again.run.id == started.run.id, "the idempotency key returns the first run")
      let badInput = await #expect(throws: RPCError.self) {
        try await Self.instantiate(harness, "greeting", ["who": "Ada"], mode: .startRun) { $0.input = JSONValue.object(["nope": 1]).protobufStruct }
      }
      #expect(badInput?.code == .invalidArgument)
    }
  }

  @Test("another tenant's templates are NOT_FOUND and not listed")
  func tenantIsolation() async throws {
    try await EngineHarness.with { harness in
      _ = try await Self.register(harness, Self.greeting, tenant: "acme")
      let other = try await harness.auth(tenant: "globex")
      let get = await #expect(throws: RPCError.self) { try await harness.workflows.getTemplate(.with { $0.name = "greeting" }, metadata: other) }
      #expect(get?.code == .notFound)
      let instantiate = await #expect(throws: RPCError.self) { try await Self.instantiate(harness, "greeting", ["who": "Ada"], tenant: "globex") }
      #expect(instantiate?.code == .notFound)
      #expect(try await harness.workflows.listTemplates(.init(), metadata: other).templates.isEmpty)
      // The same name in another tenant is a separate template with its own versions.
      let theirs = try await Self.register(harness, Self.greeting.replacingOccurrences(of: "Greets someone", with: "Globex greets"), tenant: "globex")
      #expect(theirs.created && theirs.template.version == 1)
      #expect(try await harness.adminQuery("SELECT count(*)::text FROM workflow.templates") == ["2"])
      // Viewers may read templates but not register or instantiate them.
      let viewer = try await harness.auth(roles: ["viewer"])
      #expect(try await harness.workflows.listTemplates(.init(), metadata: viewer).templates.count == 1)
      let denied = await #expect(throws: RPCError.self) {
        try await harness.workflows.instantiateTemplate(.with { $0.templateName = "greeting" }, metadata: viewer)
      }
      #expect(denied?.code == .permissionDenied)
    }
  }
}
