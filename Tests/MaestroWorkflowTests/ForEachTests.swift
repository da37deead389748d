import Foundation
import GRPCCore
import MaestroProtos
@testable import MaestroWorkflow
import MaestroWorkflowModel
import Testing

@Suite("foreach steps (real Postgres)")
struct ForEachTests {
  /// Iteration executions of foreach step `id`, by index.
  func iterations(_ run: Maestro_Workflow_V1_Run, of id: String) -> [Int: Maestro_Workflow_V1_StepExecution] {
    Dictionary(uniqueKeysWithValues: run.steps.filter { $0.stepID == id && $0.hasForeachIndex }.map { (Int($0.foreachIndex), $0) })
  }

  @Test("results come back in item order with item and index in scope; at most `concurrency` iterations are ever in flight")
  func orderAndCap() async throws {
    try await EngineHarness.with { harness in
      try await harness.register("""
        name: fan
        parameters: [{name: xs, type: PARAMETER_TYPE_LIST, required: true}]
        steps:
          - id: each
            type: foreach
            foreach:
              items: "${input.xs}"
              concurrency: 2
              step: {type: transform, input: {v: "${item * 10}", i: "${index}"}}
          - {id: total, type: transform, depends_on: [each], input: {n: "${length(steps.each.output.results)}"}}
        output: {results: "${steps.each.output.results}", failed: "${steps.each.output.failed}", n: "${steps.total.output.n}"}
        """)
      let run = try await harness.waitForTerminal(try await harness.start("fan", input: ["xs": [5, 1, 4, 2, 3, 6]]).run.id)
      #expect(run.status == .completed)
      #expect(JSONValue(run.output) == [
        "results": [["v": 50, "i": 0], ["v": 10, "i": 1], ["v": 40, "i": 2], ["v": 20, "i": 3], ["v": 30, "i": 4], ["v": 60, "i": 5]],
        "failed": 0, "n": 6,
      ])
      let iterations = self.iterations(run, of: "each")
      #expect(iterations.count == 6)
      #expect(iterations[3]?.status == .completed)
      let events = try await harness.history(run.id)
      #expect(events.contains { $0.stepID == "each" && $0.hasForeachIndex && $0.foreachIndex == 5 && $0.type == .stepCompleted })

      // The cap: durable sleeps keep iterations in flight; [created, finished] of any three overlap never.
      try await harness.register("""
        name: capped
        steps: [{id: each, type: foreach, foreach: {items: "${[1, 2, 3, 4, 5, 6]}", concurrency: 2, step: {type: sleep, sleep: {duration: 0.3s}}}}]
        """)
      let capped = try await harness.waitForTerminal(try await harness.start("capped").run.id)
      #expect(capped.status == .completed)
      let spans = try await harness.adminQuery("""
        SELECT extract(epoch FROM created_at)::text || ' ' || extract(epoch FROM finished_at)::text FROM workflow.step_executions
        WHERE run_id = '\(capped.id)' AND step_id LIKE 'each[%'
        """).map { $0.split(separator: " ").map { Double($0)! } }
      #expect(spans.count == 6)
      let peak = spans.map { probe in spans.filter { $0[0] <= probe[0] && probe[0] < $0[1] }.count }.max() ?? 0
      #expect(peak == 2, "at most 2 iterations in flight (and the cap was used), saw \(peak)")
    }
  }

  @Test("fail fast: the first failed iteration fails the step, cancels the iterations in flight and their child runs")
  func failFast() async throws {
    try await EngineHarness.with { harness in
      try await harness.register("""
        name: maybe
        parameters: [{name: n, type: PARAMETER_TYPE_INTEGER, required: true}]
        steps:
          - {id: boom, type: fail, when: "${input.n == 0}", fail: {message: "item zero", non_retryable: true}}
          - {id: hold, type: wait_signal, when: "${input.n != 0}"}
        """)
      try await harness.register("""
        name: fanout
        steps:
          - id: each
            type: foreach
            foreach: {items: "${[3, 2, 1, 0]}", concurrency: 4, step: {type: subworkflow, subworkflow: {workflow_name: maybe}, input: {n: "${item}"}, retry_policy: {max_attempts: 1}}}
        """)
      let run = try await harness.waitForTerminal(try await harness.start("fanout").run.id)
      #expect(run.status == .failed)
      #expect(run.error.message.contains("iteration 3 failed") && run.error.message.contains("item zero"))
      let iterations = self.iterations(run, of: "each")
      #expect(iterations[3]?.status == .failed)
      for index in 0..<3 { #expect(iterations[index]?.status == .cancelled, "iteration \(index)") }
      // Every child run ends: the failed one FAILED, the waiting ones CANCELLED.
      let children = try await harness.workflows.listRuns(.with { $0.parentRunID = run.id; $0.pageSize = 10 }, metadata: try await harness.auth()).runs
      #expect(children.count == 4)
      for child in children {
        let ended = try await harness.waitForTerminal(child.id)
        #expect(ended.status == (JSONValue(ended.input) == ["n": 0] ? .failed : .cancelled), "child \(ended.input)")
      }
    }
  }

  @Test("tolerate N: up to N failed iterations (after their own retries) still complete the step with null results; N + 1 fail it")
  func tolerate() async throws {
    try await EngineHarness.with { harness in
      try await harness.register("""
        name: tolerant
        parameters: [{name: bad, type: PARAMETER_TYPE_LIST, required: true}]
        steps:
          - id: each
            type: foreach
            foreach:
              items: "${[0, 1, 2, 3]}"
              failure_mode: FOR_EACH_FAILURE_MODE_TOLERATE
              tolerated_failures: 1
              step:
                type: fail
                when: "${contains(input.bad, item)}"
                fail: {message: "bad item ${item}"}
                retry_policy: {max_attempts: 2, initial_backoff: 0.01s}
        output: {each: "${steps.each.output}"}
        """)
      let one = try await harness.waitForTerminal(try await harness.start("tolerant", input: ["bad": [2]]).run.id)
      #expect(one.status == .completed)
      // Iterations whose `when` is false are SKIPPED (null); the failed one is null too and counted.
      #expect(JSONValue(one.output) == ["each": ["results": [nil, nil, nil, nil], "failed": 1]])
      #expect(self.iterations(one, of: "each")[2]?.attempt == 2, "the failing iteration was retried per the inner step's policy")
      #expect(self.iterations(one, of: "each")[0]?.status == .skipped)

      let two = try await harness.waitForTerminal(try await harness.start("tolerant", input: ["bad": [1, 3]]).run.id)
      #expect(two.status == .failed)
      #expect(two.error.message.contains("2 iterations failed (1 tolerated)"))
    }
  }

  @Test("RetryRun re-runs only the iterations that did not complete, keeping the others' outputs")
  func retryKeepsCompletedIterations() async throws {
    try await EngineHarness.with { harness in
      // Item 1 waits for a signal that never comes on the run's first attempt (its child times
      // out and fails); on the retried run it has nothing to wait for.
      try await harness.register("""
        name: gate
        parameters: [{name: n, type: PARAMETER_TYPE_INTEGER, required: true}, {name: attempt, type: PARAMETER_TYPE_INTEGER, required: true}]
        steps:
          - {id: wait, type: wait_signal, when: "${input.n == 1 && input.attempt == 1}", wait_signal: {timeout: 0.2s}}
          - {id: done, type: echo, input: {n: "${input.n}"}}
        output: {n: "${steps.done.output.n}"}
        """)
      try await harness.register("""
        name: retried
        steps:
          - id: each
            type: foreach
            foreach: {items: "${[0, 1, 2]}", step: {type: subworkflow, subworkflow: {workflow_name: gate}, input: {n: "${item}", attempt: "${run.attempt}"}, retry_policy: {max_attempts: 1}}}
        output: {results: "${steps.each.output.results}"}
        """)
      let failed = try await harness.waitForTerminal(try await harness.start("retried").run.id)
      #expect(failed.status == .failed)
      let before = self.iterations(failed, of: "each")
      #expect(before[0]?.status == .completed && before[2]?.status == .completed && before[1]?.status == .failed)
      _ = try await harness.workflows.retryRun(.with { $0.runID = failed.id }, metadata: try await harness.auth())
      let retried = try await harness.waitForTerminal(failed.id)
      #expect(retried.status == .completed)
      #expect(JSONValue(retried.output) == ["results": [["n": 0], ["n": 1], ["n": 2]]])
      let after = self.iterations(retried, of: "each")
      #expect(after[0]?.attempt == 1 && after[2]?.attempt == 1, "a completed iteration is not run again")
      #expect(after[1]?.attempt == 2)
      let children = try await harness.workflows.listRuns(.with { $0.parentRunID = failed.id; $0.pageSize = 10 }, metadata: try await harness.auth()).runs
      #expect(children.count == 4, "3 children, plus one for the retried iteration")
    }
  }

  @Test("validation names the path: missing items, a nested foreach, a bad tolerance; a non-list at run time fails the step")
  func validation() async throws {
    let issues = DefinitionValidator.validate(try DefinitionLoader.definition(yaml: """
      name: bad
      steps:
        - {id: a, type: foreach, foreach: {step: {type: echo}}}
        - {id: b, type: foreach, foreach: {items: "${[1]}", step: {type: foreach, foreach: {items: "${[2]}", step: {type: noop}}}}}
        - {id: c, type: foreach, foreach: {items: "${[1]}", tolerated_failures: 2, step: {type: noop}}}
        - {id: d, type: foreach, foreach: {items: "${[1]}", step: {type: echo, input: {x: "${steps.zzz.output}"}}}}
      """))
    let paths = Set(issues.map(\.path))
    #expect(paths.contains("steps[0].foreach.items"))
    #expect(paths.contains("steps[1].foreach.step.type"))
    #expect(paths.contains("steps[2].foreach.tolerated_failures"))
    #expect(paths.contains("steps[3].foreach.step.input.x"))

    try await EngineHarness.with { harness in
      try await harness.register(#"{name: scalar, steps: [{id: each, type: foreach, foreach: {items: "${'not a list'}", step: {type: noop}}}]}"#)
      let run = try await harness.waitForTerminal(try await harness.start("scalar").run.id)
      #expect(run.status == .failed)
      #expect(run.error.message.contains("must yield a list"))
    }
  }
}
