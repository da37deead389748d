import Foundation
import GRPCCore
import MaestroProtos
@testable import MaestroWorkflow
import MaestroWorkflowModel
import MaestroTestSupport
import SwiftProtobuf
import Testing

@Suite("hello-case, the end-to-end reference workflow (real Postgres)")
struct HelloCaseTests {
  @Test("hello-case completes within its SLA: worker task, sub-workflow hello-world, http health call, timer and conditional")
  func helloCase() async throws {
    try await HTTPStepTests.with { harness, server in
      let folder = TestEnvironment.repositoryRoot + "/services/workflow-service/workflows/reference"
      for file in ["hello-world.yaml", "hello-case.yaml"] {
        let definition = try DefinitionLoader.definition(file: "\(folder)/\(file)")
        _ = try await harness.workflows.registerWorkflow(.with { $0.definition = definition }, metadata: try await harness.auth())
      }
      let run = try await harness.start("hello-case", input: ["health_url": .string(server.baseURL + "/ok")]).run.id
      // The worker side, through the worker API: the demo.uppercase queue.
      let worker = try await harness.auth(roles: ["workflow-operator"])
      let polled = try await harness.workers.pollTask(
        .with {
          $0.taskQueues = ["demo.uppercase"]
          $0.waitTimeout = Google_Protobuf_Duration(seconds: 20)
        },
        metadata: worker
      )
      #expect(polled.hasTask)
      let output = try ReferenceWorker.handle(queue: polled.task.taskQueue, input: JSONValue(polled.task.input))
      _ = try await harness.workers.completeTask(.with {
        $0.taskToken = polled.task.taskToken
        $0.output = output.protobufStruct
      }, metadata: worker)
      let finished = try await harness.waitForTerminal(run, timeout: .seconds(60))
      #expect(finished.status == .completed, "\(finished.error.message)")
      #expect(finished.slaMet)
      #expect(JSONValue(finished.output) == ["status": "healthy", "shout": "MAESTRO END TO END", "hello": "hello, hello-case", "health_status": 200])
      let steps = Dictionary(uniqueKeysWithValues: finished.steps.map { ($0.stepID, $0.status) })
      #expect(steps == ["start": .completed, "shout": .completed, "hello": .completed, "probe": .completed, "pause": .completed, "deep_check": .completed, "report": .completed])
    }
  }
}
