import Foundation
import GRPCCore
import MaestroProtos
@testable import MaestroWorkflow
import MaestroWorkflowModel
import Testing

@Suite("Sub-workflows (real Postgres)")
struct SubworkflowTests {
  func children(_ harness: EngineHarness, of parent: String) async throws -> [Maestro_Workflow_V1_Run] {
    try await harness.workflows.listRuns(.with { $0.parentRunID = parent; $0.pageSize = 50 }, metadata: try await harness.auth()).runs
  }

  @Test("a subworkflow step starts a child run in the same tenant, waits for it, and outputs the child's output")
  func success() async throws {
    try await EngineHarness.with { harness in
      try await harness.register("""
        name: kid
        parameters: [{name: n, type: PARAMETER_TYPE_INTEGER, required: true}]
        steps: [{id: nap, type: sleep, sleep: {duration: 0.2s}}, {id: double, type: transform, depends_on: [nap], input: {v: "${input.n * 2}"}}]
        output: {v: "${steps.double.output.v}"}
        """)
      try await harness.register("""
        name: parent
        steps:
          - {id: call, type: subworkflow, subworkflow: {workflow_name: kid}, input: {n: 21}}
          - {id: after, type: echo, depends_on: [call], input: {got: "${steps.call.output.v}"}}
        output: {got: "${steps.after.output.got}"}
        """)
      let run = try await harness.waitForTerminal(try await harness.start("parent").run.id)
      #expect(run.status == .completed)
      #expect(JSONValue(run.output) == ["got": 42])
      let kids = try await self.children(harness, of: run.id)
      #expect(kids.count == 1)
      #expect(kids.first?.workflowName == "kid" && kids.first?.status == .completed && kids.first?.parentRunID == run.id)
      let events = try await harness.history(run.id).map(\.type)
      #expect(events.contains(.childRunStarted))
    }
  }

  @Test("a failed child fails the step (and the run); an unknown workflow fails the step without retries; a workflow cannot call itself")
  func failures() async throws {
    try await EngineHarness.with { harness in
      try await harness.register("{name: broken, steps: [{id: boom, type: fail, fail: {message: 'child broke', non_retryable: true}}]}")
      try await harness.register("{name: calls-broken, steps: [{id: call, type: subworkflow, subworkflow: {workflow_name: broken}, retry_policy: {max_attempts: 1}}]}")
      try await harness.register("{name: calls-ghost, steps: [{id: call, type: subworkflow, subworkflow: {workflow_name: ghost}}]}")
      let failed = try await harness.waitForTerminal(try await harness.start("calls-broken").run.id)
      #expect(failed.status == .failed)
      #expect(failed.error.message.contains("ended FAILED") && failed.error.message.contains("child broke"))
      let ghost = try await harness.waitForTerminal(try await harness.start("calls-ghost").run.id)
      #expect(ghost.status == .failed)
      #expect(ghost.steps.first?.attempt == 1, "not retried")
      #expect(ghost.error.message.contains("ghost"))
      let recursive = await #expect(throws: RPCError.self) {
        try await harness.register("{name: loop, steps: [{id: again, type: subworkflow, subworkflow: {workflow_name: loop}}]}")
      }
      #expect(recursive?.code == .invalidArgument)
    }
  }

  @Test("cancelling the parent cancels the waiting child (and its child)")
  func cancelPropagates() async throws {
    try await EngineHarness.with { harness in
      try await harness.register("{name: grandchild, steps: [{id: w, type: wait_signal}]}")
      try await harness.register("{name: child, steps: [{id: call, type: subworkflow, subworkflow: {workflow_name: grandchild}}]}")
      try await harness.register("{name: top, steps: [{id: call, type: subworkflow, subworkflow: {workflow_name: child}}]}")
      let top = try await harness.start("top").run.id
      var grandchildID = ""
      try await EngineTests.waitFor(timeout: .seconds(30)) {
        guard let child = try await self.children(harness, of: top).first, let grandchild = try await self.children(harness, of: child.id).first else { return false }
        grandchildID = grandchild.id
        return try await harness.run(grandchild.id).steps.first?.status == .waiting
      }
      _ = try await harness.workflows.cancelRun(.with { $0.runID = top }, metadata: try await harness.auth())
      let grandchild = try await harness.waitForTerminal(grandchildID)
      #expect(grandchild.status == .cancelled)
      let child = try #require(try await self.children(harness, of: top).first)
      #expect(try await harness.waitForTerminal(child.id).status == .cancelled)
    }
  }
}
