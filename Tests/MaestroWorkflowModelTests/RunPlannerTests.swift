import Foundation
import MaestroWorkflowModel
import Testing

@Suite("Run planner (pure state machine)")
struct RunPlannerTests {
  static let now = Date(timeIntervalSince1970: 1_700_000_000)

  static func planner(_ json: String) throws -> RunPlanner {
    RunPlanner(workflow: try DefinitionValidator.compile(definition(json)).get())
  }

  static func plan(_ planner: RunPlanner, _ snapshots: [String: StepSnapshot], input: JSONValue = [:]) -> RunPlanner.Plan {
    planner.plan(snapshots: snapshots, context: ExpressionContext(input: input, now: Self.now))
  }

  static func done(_ output: JSONValue = [:]) -> StepSnapshot { StepSnapshot(status: .completed, attempt: 1, output: output) }

  static let diamond = """
    {"name": "d", "steps": [
      {"id": "a", "type": "echo", "input": {"v": "${input.v}"}},
      {"id": "b", "type": "echo", "dependsOn": ["a"], "input": {"from_a": "${steps.a.output.v}"}},
      {"id": "c", "type": "noop", "dependsOn": ["a"]},
      {"id": "d", "type": "noop", "dependsOn": ["b", "c"]}
    ], "output": {"result": "${steps.b.output.from_a}"}}
    """

  @Test("roots start first; parallel branches become ready together; the join waits for both")
  func diamondProgress() throws {
    let planner = try Self.planner(Self.diamond)
    let start = Self.plan(planner, [:], input: ["v": 42])
    #expect(start.actions == [.schedule("a", input: ["v": 42])])
    #expect(start.outcome == .running)

    let afterA = Self.plan(planner, ["a": Self.done(["v": 42])])
    #expect(afterA.actions == [.schedule("b", input: ["from_a": 42]), .schedule("c", input: [:])])

    let afterB = Self.plan(planner, ["a": Self.done(["v": 42]), "b": Self.done(["from_a": 42]), "c": StepSnapshot(status: .running, attempt: 1)])
    #expect(afterB.actions == [])
    #expect(afterB.outcome == .running)

    let all = Self.plan(planner, ["a": Self.done(["v": 42]), "b": Self.done(["from_a": 42]), "c": Self.done(), "d": Self.done()])
    #expect(all.outcome == .completed(output: ["result": 42]))
  }

  @Test("a false condition skips the step, and a step whose dependencies all skipped is skipped")
  func conditions() throws {
    let planner = try Self.planner("""
      {"name": "c", "steps": [
        {"id": "a", "type": "noop", "when": "input.go"},
        {"id": "b", "type": "noop", "dependsOn": ["a"]},
        {"id": "c", "type": "noop"}
      ]}
      """)
    let plan = Self.plan(planner, [:], input: ["go": false])
    #expect(plan.actions == [.skip("a", reason: "when was false"), .skip("b", reason: "all dependencies were skipped"), .schedule("c", input: [:])])
  }

  @Test("a switch enables its chosen branch and skips the others; a join after it still runs")
  func switchBranches() throws {
    let planner = try Self.planner("""
      {"name": "s", "steps": [
        {"id": "route", "type": "switch", "switch": {"cases": [
          {"name": "big", "condition": "input.n > 10", "steps": ["big"]},
          {"name": "small", "condition": "input.n <= 10", "steps": ["small"]}], "defaultSteps": []}},
        {"id": "big", "type": "noop", "dependsOn": ["route"]},
        {"id": "small", "type": "noop", "dependsOn": ["route"]},
        {"id": "join", "type": "noop", "dependsOn": ["big", "small"]}
      ]}
      """)
    #expect(Self.plan(planner, [:], input: ["n": 3]).actions == [.schedule("route", input: ["branch": "small"])])
    let plan = Self.plan(planner, ["route": Self.done(["branch": "small"])])
    #expect(plan.actions == [.skip("big", reason: "switch 'route' chose 'small'"), .schedule("small", input: [:])])
    let joined = Self.plan(planner, ["route": Self.done(["branch": "small"]), "big": StepSnapshot(status: .skipped, attempt: 1), "small": Self.done()])
    #expect(joined.actions == [.schedule("join", input: [:])])
  }

  @Test("a failed step fails the run unless it allows failure")
  func failures() throws {
    let failure = StepFailure("boom", errorClass: .user)
    let strict = try Self.planner(#"{"name": "f", "steps": [{"id": "a", "type": "noop"}, {"id": "b", "type": "noop", "dependsOn": ["a"]}]}"#)
    let failed = Self.plan(strict, ["a": StepSnapshot(status: .failed, attempt: 3, error: failure)])
    #expect(failed.actions == [])
    #expect(failed.outcome == .failed(stepID: "a", failure: failure))

    let tolerant = try Self.planner(#"{"name": "f", "steps": [{"id": "a", "type": "noop", "allowFailure": true}, {"id": "b", "type": "echo", "dependsOn": ["a"], "input": {"e": "${steps.a.error.message}"}}]}"#)
    #expect(Self.plan(tolerant, ["a": StepSnapshot(status: .failed, attempt: 1, error: failure)]).actions == [.schedule("b", input: ["e": "boom"])])
  }

  @Test("an input expression that fails at run time fails the step as a non-retryable user error")
  func evaluationFailure() throws {
    let planner = try Self.planner(#"{"name": "e", "steps": [{"id": "a", "type": "echo", "input": {"x": "${input.name - 1}"}}]}"#)
    let plan = Self.plan(planner, [:], input: ["name": "Ada"])
    guard case .fail("a", let failure) = plan.actions.first else {
      Issue.record("expected a failure, got \(plan.actions)")
      return
    }
    #expect(failure.errorClass == .user && failure.nonRetryable)
    #expect(plan.outcome == .failed(stepID: "a", failure: failure))
  }

  @Test("sleep resolves its wake-up time from the clock; built-ins execute as documented")
  func builtins() throws {
    let planner = try Self.planner(#"{"name": "z", "steps": [{"id": "nap", "type": "sleep", "sleep": {"duration": "2s"}}, {"id": "f", "type": "fail", "fail": {"message": "no ${input.who}", "errorClass": "ERROR_CLASS_PLATFORM"}}]}"#)
    let plan = Self.plan(planner, [:], input: ["who": "way"])
    #expect(plan.actions == [
      .schedule("nap", input: ["wake_at": "2023-11-14T22:13:22.000Z"]),
      .schedule("f", input: ["message": "no way", "error_class": "platform", "non_retryable": false]),
    ])
    #expect(BuiltinExecutor.execute(type: .sleep, input: ["wake_at": "2023-11-14T22:13:22.000Z"], now: Self.now) == .wait(until: Self.now.addingTimeInterval(2)))
    #expect(BuiltinExecutor.execute(type: .fail, input: ["message": "no way", "error_class": "platform", "non_retryable": false], now: Self.now)
      == .failed(StepFailure("no way", errorClass: .platform, type: "fail")))
    #expect(BuiltinExecutor.execute(type: .echo, input: ["a": 1], now: Self.now) == .completed(output: ["a": 1]))
  }
}
