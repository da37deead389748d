import Foundation
import GRPCCore
import MaestroProtos
import MaestroTestSupport
@testable import MaestroWorkflow
import MaestroWorkflowModel
import SwiftProtobuf
import Testing

@Suite("The shipped templates: intelligence-analysis and data-processing (real Postgres)")
struct ShippedTemplateTests {
  static let folder = TestEnvironment.repositoryRoot + "/services/workflow-service/workflows/templates"
  static func load(_ name: String) throws -> Maestro_Workflow_V1_Template {
    try TemplateLoader.template(file: "\(self.folder)/\(name).yaml")
  }

  @Test("both files are valid templates")
  func valid() throws {
    #expect(TemplateInstantiator.validate(try Self.load("data-processing")).isEmpty)
    #expect(TemplateInstantiator.validate(try Self.load("intelligence-analysis")).isEmpty)
  }

  @Test("intelligence-analysis: every bad parameter is reported with its path; good ones give a foreach over the sources")
  func intelligenceParameters() throws {
    let template = try Self.load("intelligence-analysis")
    let bad = TemplateInstantiator.instantiate(template, parameters: [
      "sources": ["http://127.0.0.1:9300/articles/1", "gopher://old", 42],
      "entity_types": ["person", "spaceship"],
      "confidence_threshold": 1.5,
      "approver": "",
      "priority": "high",
    ])
    guard case .failure(let failure) = bad else {
      Issue.record("bad parameters accepted")
      return
    }
    #expect(failure.issues.map(\.path).sorted() == [
      "parameters.approver", "parameters.case_name", "parameters.confidence_threshold", "parameters.entity_types[1]",
      "parameters.priority", "parameters.sources[1]", "parameters.sources[2]",
    ])
    let empty = TemplateInstantiator.instantiate(template, parameters: ["case_name": "c", "sources": []])
    guard case .failure(let tooFew) = empty else {
      Issue.record("an empty source list was accepted")
      return
    }
    #expect(tooFew.issues.map(\.path) == ["parameters.sources"])
    #expect(tooFew.issues.map(\.code) == ["too_few_items"])

    let good = TemplateInstantiator.instantiate(template, parameters: ["case_name": "Case 7", "sources": ["http://127.0.0.1:9300/articles/1"]])
    let definition = try good.get()
    #expect(definition.steps[0].foreach.items == "${['http://127.0.0.1:9300/articles/1']}")
    #expect(definition.steps[3].approval.approvers == ["analyst"])
    #expect(definition.labels["case"] == "Case 7")
    #expect(JSONValue(definition.steps[1].input)["types"] == ["person", "organization"])
    #expect(JSONValue(definition.steps[1].input)["min_confidence"] == 0.6)
  }

  @Test("data-processing over gRPC: registers, VALIDATE_ONLY reports every violation, START_RUN extracts, filters and loads")
  func dataProcessing() async throws {
    try await HTTPStepTests.with { harness, server in
      let template = try Self.load("data-processing")
      let registered = try await harness.workflows.registerTemplate(.with { $0.template = template }, metadata: try await harness.auth())
      #expect(registered.created)
      let bad = try await TemplateTests.instantiate(harness, "data-processing", [
        "dataset": "Sales Q1", "source_url": "file:///etc/passwd", "batch_size": 0, "min_records": -1, "sink": "x",
      ], mode: .validateOnly)
      #expect(bad.issues.map(\.path).sorted() == [
        "parameters.batch_size", "parameters.dataset", "parameters.min_records", "parameters.sink", "parameters.source_url",
      ])

      // Loads: the source answers without records, and min_records 0 lets the empty batch through.
      let parameters: JSONValue = ["dataset": "sales", "source_url": .string(server.baseURL + "/ok"), "sink_url": .string(server.baseURL + "/echo"),
                                   "batch_size": 25, "min_records": 0]
      let started = try await TemplateTests.instantiate(harness, "data-processing", parameters, mode: .startRun)
      #expect(started.workflow.definition.steps[0].http.url == server.baseURL + "/ok?limit=25")
      #expect(started.workflow.definition.labels["dataset"] == "sales")
      let run = try await harness.waitForTerminal(started.run.id)
      #expect(run.status == .completed, "\(run.error.message)")
      #expect(JSONValue(run.output) == ["dataset": "sales", "loaded": 0, "sink_status": 200])
      let statuses = Dictionary(uniqueKeysWithValues: run.steps.map { ($0.stepID, $0.status) })
      #expect(statuses["load"] == .completed && statuses["skip"] == .skipped)

      // Filtered: fewer records than min_records skips the load.
      var filtered = parameters
      if case .object(var members) = filtered {
        members["min_records"] = 5
        filtered = .object(members)
      }
      let skipped = try await TemplateTests.instantiate(harness, "data-processing", filtered, mode: .startRun)
      let skippedRun = try await harness.waitForTerminal(skipped.run.id)
      #expect(skippedRun.status == .completed, "\(skippedRun.error.message)")
      #expect(JSONValue(skippedRun.output) == ["dataset": "sales", "loaded": 0, "sink_status": nil])
      #expect(Dictionary(uniqueKeysWithValues: skippedRun.steps.map { ($0.stepID, $0.status) })["load"] == .skipped)
    }
  }

  @Test("startup installation registers the valid shipped templates for the tenant, idempotently")
  func install() async throws {
    try await EngineHarness.with { harness in
      let installer = ShippedTemplates(engine: harness.engine, directory: Self.folder, tenant: "default")
      try await installer.install()
      try await installer.install()
      let listed = try await harness.workflows.listTemplates(.init(), metadata: try await harness.auth(tenant: "default"))
      #expect(listed.templates.map(\.name) == ["data-processing", "intelligence-analysis"])
      #expect(listed.templates.allSatisfy { $0.version == 1 && $0.meta.createdBy == "workflow-service" })
    }
  }
}
