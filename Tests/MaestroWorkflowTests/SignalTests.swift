import Foundation
import GRPCCore
import MaestroProtos
@testable import MaestroWorkflow
import MaestroWorkflowModel
import Testing

@Suite("Signals: wait_signal and approval (real Postgres)")
struct SignalTests {
  func signal(_ harness: EngineHarness, run: String, _ name: String, payload: JSONValue = [:], requestID: String = "", roles: [String] = ["workflow-author"]) async throws -> Maestro_Workflow_V1_SignalRunResponse {
    try await harness.workflows.signalRun(
      .with {
        $0.runID = run
        $0.signalName = name
        $0.payload = payload.protobufStruct
        $0.requestID = requestID
      },
      metadata: try await harness.auth(roles: roles)
    )
  }

  func waitForStatus(_ harness: EngineHarness, run: String, step: String, _ status: Maestro_Workflow_V1_StepStatus) async throws {
    try await EngineTests.waitFor {
      try await harness.run(run).steps.contains { $0.stepID == step && $0.status == status }
    }
  }

  @Test("a waiting step resumes with the signal's payload; a signal sent before the wait is stored and consumed; a retried request delivers once")
  func deliveryAndBuffering() async throws {
    try await EngineHarness.with { harness in
      try await harness.register("""
        name: signals
        steps:
          - {id: early, type: wait_signal, wait_signal: {signal_name: go}}
          - {id: gate, type: wait_signal, depends_on: [early]}
          - {id: done, type: echo, depends_on: [gate], input: {go: "${steps.early.output.n}", gate: "${steps.gate.output.n}"}}
        output: {result: "${steps.done.output}"}
        """)
      let run = try await harness.start("signals").run.id
      try await self.waitForStatus(harness, run: run, step: "early", .waiting)
      // "gate" is not waiting yet: its signal is stored.
      let stored = try await self.signal(harness, run: run, "gate", payload: ["n": 2], requestID: "r-gate")
      #expect(stored.buffered && stored.stepID.isEmpty)
      let delivered = try await self.signal(harness, run: run, "go", payload: ["n": 1], requestID: "r-go")
      #expect(!delivered.buffered && delivered.stepID == "early")
      let again = try await self.signal(harness, run: run, "go", payload: ["n": 99], requestID: "r-go")
      #expect(again.stepID == "early", "the same request id is delivered once")
      let finished = try await harness.waitForTerminal(run)
      #expect(finished.status == .completed)
      #expect(JSONValue(finished.output) == ["result": ["go": 1, "gate": 2]])
      let types = try await harness.history(run).map(\.type)
      #expect(types.filter { $0 == .signalReceived }.count == 2)
      let signals = try await harness.adminQuery("SELECT count(*)::text FROM workflow.signals WHERE consumed_at IS NOT NULL")
      #expect(signals == ["2"])
      // A finished run takes no more signals.
      let late = await #expect(throws: RPCError.self) { try await self.signal(harness, run: run, "go") }
      #expect(late?.code == .failedPrecondition)
    }
  }

  @Test("a signal timeout fails the step as TIMED_OUT, or continues with timed_out when configured")
  func timeouts() async throws {
    try await EngineHarness.with { harness in
      try await harness.register("{name: impatient, steps: [{id: w, type: wait_signal, wait_signal: {timeout: 0.3s}}]}")
      try await harness.register("{name: lenient, steps: [{id: w, type: wait_signal, wait_signal: {timeout: 0.3s, on_timeout: SIGNAL_TIMEOUT_ACTION_CONTINUE}}], output: {w: '${steps.w.output}'}}")
      let failed = try await harness.waitForTerminal(try await harness.start("impatient").run.id)
      #expect(failed.status == .failed)
      #expect(failed.steps.map(\.status) == [.timedOut], "one attempt: a missed signal is not retried")
      let continued = try await harness.waitForTerminal(try await harness.start("lenient").run.id)
      #expect(continued.status == .completed)
      #expect(JSONValue(continued.output) == ["w": ["timed_out": true]])
    }
  }

  @Test("approval: only listed approvers may answer; approve completes with the approver, reject fails unless continue_on_reject")
  func approvals() async throws {
    try await EngineHarness.with { harness in
      try await harness.register("""
        name: approve
        steps:
          - {id: ok, type: approval, approval: {prompt: "ship ${run.workflow}?", approvers: [analyst]}}
        output: {decision: "${steps.ok.output}"}
        """)
      try await harness.register("{name: strict, steps: [{id: ok, type: approval}]}")
      let run = try await harness.start("approve").run.id
      try await self.waitForStatus(harness, run: run, step: "ok", .waiting)
      let input = try await harness.run(run).steps.first { $0.stepID == "ok" }?.input
      #expect(input.map(JSONValue.init)?["prompt"] == "ship approve?")
      let denied = await #expect(throws: RPCError.self) {
        try await self.signal(harness, run: run, "ok", payload: ["approved": true], roles: ["workflow-author"])
      }
      #expect(denied?.code == .permissionDenied)
      _ = try await self.signal(harness, run: run, "ok", payload: ["approved": true, "comment": "lgtm"], roles: ["analyst"])
      let approved = try await harness.waitForTerminal(run)
      #expect(approved.status == .completed)
      #expect(JSONValue(approved.output) == ["decision": ["approved": true, "comment": "lgtm", "approver": "tester"]])

      let rejectedRun = try await harness.start("strict").run.id
      try await self.waitForStatus(harness, run: rejectedRun, step: "ok", .waiting)
      _ = try await self.signal(harness, run: rejectedRun, "ok", payload: ["approved": false])
      let rejected = try await harness.waitForTerminal(rejectedRun)
      #expect(rejected.status == .failed)
      #expect(rejected.error.message.contains("rejected"))
    }
  }

  @Test("SignalRun validates its arguments; another tenant's run is NOT_FOUND; cancelling a run ends its wait")
  func validationAndCancel() async throws {
    try await EngineHarness.with { harness in
      try await harness.register("{name: waits, steps: [{id: w, type: wait_signal}]}")
      let run = try await harness.start("waits").run.id
      let badName = await #expect(throws: RPCError.self) { try await self.signal(harness, run: run, "bad name!") }
      #expect(badName?.code == .invalidArgument)
      let badRun = await #expect(throws: RPCError.self) { try await self.signal(harness, run: "not-a-uuid", "x") }
      #expect(badRun?.code == .invalidArgument)
      let otherTenant = await #expect(throws: RPCError.self) {
        try await harness.workflows.signalRun(.with { $0.runID = run; $0.signalName = "w" }, metadata: try await harness.auth(tenant: "globex"))
      }
      #expect(otherTenant?.code == .notFound)
      try await self.waitForStatus(harness, run: run, step: "w", .waiting)
      _ = try await harness.workflows.cancelRun(.with { $0.runID = run }, metadata: try await harness.auth())
      let cancelled = try await harness.run(run)
      #expect(cancelled.status == .cancelled)
      #expect(cancelled.steps.map(\.status) == [.cancelled])
    }
  }
}
