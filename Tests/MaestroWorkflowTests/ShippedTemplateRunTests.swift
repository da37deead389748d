import Foundation
import GRPCCore
import MaestroProtos
import MaestroTestSupport
@testable import MaestroWorkflow
import MaestroWorkflowModel
import SwiftProtobuf
import Testing

/// The shipped templates instantiated and run end to end on the engine: http to a local server,
/// the reference worker's entity extraction through the worker API, an analyst's approval.
@Suite("The shipped templates run end to end (real Postgres, local HTTP endpoints)")
struct ShippedTemplateRunTests {
  func registerShipped(_ name: String, _ harness: EngineHarness) async throws {
    let template = try TemplateLoader.template(file: "\(ShippedTemplateTests.folder)/\(name).yaml")
    _ = try await harness.workflows.registerTemplate(.with { $0.template = template }, metadata: try await harness.auth())
  }

  func instantiate(_ name: String, _ parameters: JSONValue, _ harness: EngineHarness) async throws -> Maestro_Workflow_V1_InstantiateTemplateResponse {
    try await harness.workflows.instantiateTemplate(
      .with {
        $0.templateName = name
        $0.parameters = parameters.protobufStruct
        $0.mode = .startRun
      },
      metadata: try await harness.auth()
    )
  }

  @Test("intelligence-analysis: a foreach of http collects the sources (one may fail), a worker extracts entities, the analyst approves, the report is the output")
  func intelligenceAnalysis() async throws {
    try await HTTPStepTests.with { harness, server in
      do {
        try await self.registerShipped("intelligence-analysis", harness)
        let started = try await self.instantiate("intelligence-analysis", [
          "case_name": "Case 7",
          "sources": .array(["\(server.baseURL)/text/1", "\(server.baseURL)/text/2", "\(server.baseURL)/status/503"].map(JSONValue.string)),
          "entity_types": ["person", "organization"],
          "confidence_threshold": 0.5,
        ], harness)
        #expect(started.workflow.definition.name == "intelligence-analysis")
        let runID = started.run.id

        // The reference worker's side, through the worker API.
        let worker = try await harness.auth(roles: ["workflow-operator"])
        var task: Maestro_Workflow_V1_Task?
        try await EngineTests.waitFor(timeout: .seconds(60)) {
          let polled = try await harness.workers.pollTask(
            .with { $0.taskQueues = ["demo.extract-entities"]; $0.workerIdentity = "test"; $0.waitTimeout = Google_Protobuf_Duration(seconds: 5) },
            metadata: worker)
          task = polled.hasTask ? polled.task : nil
          return task != nil
        }
        let claimed = try #require(task)
        let output = try ReferenceWorker.handle(queue: claimed.taskQueue, input: JSONValue(claimed.input))
        _ = try await harness.workers.completeTask(.with { $0.taskToken = claimed.taskToken; $0.output = output.protobufStruct }, metadata: worker)

        // The analyst approves.
        try await EngineTests.waitFor(timeout: .seconds(60)) {
          try await harness.run(runID).steps.first { $0.stepID == "review" }?.status == .waiting
        }
        _ = try await harness.workflows.signalRun(
          .with { $0.runID = runID; $0.signalName = "review"; $0.payload = JSONValue(["approved": true, "comment": "publish"]).protobufStruct },
          metadata: try await harness.auth(roles: ["analyst"]))
        let run = try await harness.waitForTerminal(runID)
        #expect(run.status == .completed)
        let report = JSONValue(run.output)["report"] ?? .null
        #expect(report["case"] == "Case 7")
        #expect(report["comment"] == "publish")
        var names: Set<String> = []
        if case .array(let entities) = report["entities"] ?? .null {
          for entity in entities { if case .string(let text) = entity["text"] ?? .null { names.insert(text) } }
        }
        #expect(names.isSuperset(of: ["Ada Lovelace", "ACME", "Grace Hopper"]), "\(names)")
        // Two of three sources answered: coverage 2/3, one failed iteration tolerated.
        if case .number(let coverage) = report["coverage"] ?? .null { #expect(abs(coverage - 2.0 / 3.0) < 1e-9) } else { Issue.record("no coverage") }
        let iterations = run.steps.filter { $0.stepID == "collect" && $0.hasForeachIndex }
        #expect(iterations.map(\.status) == [.completed, .completed, .failed])
      }
    }
  }

  @Test("data-processing: extract over http, transform, load to the sink; a batch below min_records is not loaded")
  func dataProcessing() async throws {
    try await HTTPStepTests.with { harness, server in
      do {
        try await self.registerShipped("data-processing", harness)
        let loaded = try await self.instantiate("data-processing", [
          "dataset": "orders", "source_url": .string("\(server.baseURL)/records"), "sink_url": .string("\(server.baseURL)/echo"), "batch_size": 25,
        ], harness)
        let run = try await harness.waitForTerminal(loaded.run.id)
        #expect(run.status == .completed, "\(run.error.message)")
        #expect(JSONValue(run.output) == ["dataset": "orders", "loaded": 25, "sink_status": 200])
        let sink = try #require(run.steps.first { $0.stepID == "load" })
        #expect(JSONValue(sink.output)["body"]?["body"]?["count"] == 25, "the sink received the batch")

        let skipped = try await self.instantiate("data-processing", [
          "dataset": "small", "source_url": .string("\(server.baseURL)/records"), "sink_url": .string("\(server.baseURL)/echo"),
          "batch_size": 3, "min_records": 5,
        ], harness)
        let small = try await harness.waitForTerminal(skipped.run.id)
        #expect(small.status == .completed)
        #expect(JSONValue(small.output)["loaded"] == 0)
        #expect(small.steps.first { $0.stepID == "load" }?.status == .skipped)
      }
    }
  }
}
