import MaestroProtos
import MaestroWorkflowModel
import Testing

@Suite("Signal steps (pure)")
struct SignalDeliveryTests {
  func compile(_ json: String) throws -> CompiledWorkflow {
    try DefinitionValidator.compile(definition(json)).get()
  }

  @Test("wait_signal and approval compile; the signal name defaults to the step id; a bad name or timeout is reported with its path")
  func validation() throws {
    let workflow = try self.compile("""
      {"name": "s", "steps": [
        {"id": "a", "type": "wait_signal"},
        {"id": "b", "type": "wait_signal", "waitSignal": {"signalName": "go", "timeout": "5s", "onTimeout": "SIGNAL_TIMEOUT_ACTION_CONTINUE"}},
        {"id": "c", "type": "approval", "approval": {"approvers": ["analyst"], "prompt": "ok ${run.id}?"}}]}
      """)
    #expect(workflow.steps["a"]?.signalName == "a")
    #expect(workflow.steps["b"]?.signalName == "go")
    #expect(workflow.steps["b"]?.signalTimeout == .seconds(5))
    #expect(workflow.steps["b"]?.signalTimeoutContinues == true)
    #expect(workflow.steps["c"]?.signalName == "c")
    let bad = DefinitionValidator.compile(try definition("""
      {"name": "s", "steps": [
        {"id": "a", "type": "wait_signal", "waitSignal": {"signalName": "no spaces", "timeout": "-1s"}},
        {"id": "b", "type": "approval", "approval": {"prompt": "${unclosed"}}]}
      """))
    guard case .failure(let issues) = bad else {
      Issue.record("expected validation issues")
      return
    }
    let paths = Set(issues.issues.map(\.path))
    #expect(paths.contains("steps[0].wait_signal.signal_name"))
    #expect(paths.contains("steps[0].wait_signal.timeout"))
    #expect(paths.contains("steps[1].approval.prompt"))
  }

  @Test("delivery: wait_signal outputs the payload; approval approves, rejects (non-retryable user error) or continues on reject; timeouts")
  func delivery() throws {
    let workflow = try self.compile("""
      {"name": "s", "steps": [
        {"id": "w", "type": "wait_signal"},
        {"id": "a", "type": "approval"},
        {"id": "lenient", "type": "approval", "approval": {"continueOnReject": true, "onTimeout": "SIGNAL_TIMEOUT_ACTION_CONTINUE"}}]}
      """)
    let w = workflow.steps["w"]!, a = workflow.steps["a"]!, lenient = workflow.steps["lenient"]!
    #expect(SignalDelivery.result(of: w, payload: ["x": 1], sender: "bob") == .completed(output: ["x": 1]))
    #expect(SignalDelivery.result(of: a, payload: ["approved": true, "comment": "fine"], sender: "bob")
      == .completed(output: ["approved": true, "comment": "fine", "approver": "bob"]))
    guard case .failed(let rejection) = SignalDelivery.result(of: a, payload: ["approved": false], sender: "eve") else {
      Issue.record("a rejection fails the step")
      return
    }
    #expect(rejection.errorClass == .user && rejection.nonRetryable)
    #expect(SignalDelivery.result(of: lenient, payload: ["approved": "yes"], sender: "eve")
      == .completed(output: ["approved": false, "comment": "", "approver": "eve"]), "only the boolean true approves")
    guard case .failed(let timeout) = SignalDelivery.timeout(of: w) else {
      Issue.record("a missed signal fails by default")
      return
    }
    #expect(timeout.errorClass == .timeout && timeout.nonRetryable)
    #expect(SignalDelivery.timeout(of: lenient) == .completed(output: ["approved": false, "timed_out": true]))
  }
}
