import Foundation
import GRPCCore
import MaestroProtos
@testable import MaestroWorkflow
import MaestroWorkflowModel
import Testing

@Suite("Run strategies (real Postgres)")
struct RunStrategyTests {
  /// A workflow whose runs wait for the signal `go`, with the given run strategy.
  func register(_ harness: EngineHarness, _ name: String, strategy: String) async throws {
    try await harness.register("""
      name: \(name)
      run_strategy: \(strategy)
      steps: [{id: hold, type: wait_signal, wait_signal: {signal_name: go}}]
      """)
  }

  func release(_ harness: EngineHarness, _ runID: String) async throws {
    _ = try await harness.workflows.signalRun(.with { $0.runID = runID; $0.signalName = "go" }, metadata: try await harness.auth())
  }

  func status(_ harness: EngineHarness, _ runID: String) async throws -> Maestro_Workflow_V1_RunStatus {
    try await harness.run(runID).status
  }

  @Test("sequential: one run at a time; the others wait PENDING and start in start order")
  func sequential() async throws {
    try await EngineHarness.with { harness in
      try await self.register(harness, "one-at-a-time", strategy: "{mode: RUN_STRATEGY_MODE_SEQUENTIAL}")
      var ids: [String] = []
      for _ in 0..<3 { ids.append(try await harness.start("one-at-a-time").run.id) }
      #expect(try await self.status(harness, ids[0]) == .running)
      #expect(try await self.status(harness, ids[1]) == .pending)
      #expect(try await self.status(harness, ids[2]) == .pending)
      #expect(try await harness.run(ids[1]).steps.allSatisfy { $0.status == .pending }, "a queued run has started nothing")

      try await self.release(harness, ids[0])
      #expect(try await harness.waitForTerminal(ids[0]).status == .completed)
      try await EngineTests.waitFor { try await self.status(harness, ids[1]) == .running }
      #expect(try await self.status(harness, ids[2]) == .pending, "still one at a time")
      try await self.release(harness, ids[1])
      try await EngineTests.waitFor { try await self.status(harness, ids[2]) == .running }
      try await self.release(harness, ids[2])
      #expect(try await harness.waitForTerminal(ids[2]).status == .completed)
      let started = try await ids.asyncMap { try await harness.run($0).startedAt.date }
      #expect(started[0] < started[1] && started[1] < started[2])
      let events = try await harness.history(ids[2]).map(\.type)
      #expect(events.starts(with: [.runCreated, .runStarted]))
    }
  }

  @Test("parallel with max_concurrent_runs: runs beyond the limit queue; a cancelled run frees its slot; a cancelled queued run never starts")
  func parallelLimit() async throws {
    try await EngineHarness.with { harness in
      try await self.register(harness, "two-at-a-time", strategy: "{mode: RUN_STRATEGY_MODE_PARALLEL, max_concurrent_runs: 2}")
      var ids: [String] = []
      for _ in 0..<4 { ids.append(try await harness.start("two-at-a-time").run.id) }
      #expect(try await ids.asyncMap { try await self.status(harness, $0) } == [.running, .running, .pending, .pending])
      _ = try await harness.workflows.cancelRun(.with { $0.runID = ids[3] }, metadata: try await harness.auth())
      #expect(try await self.status(harness, ids[3]) == .cancelled)
      _ = try await harness.workflows.cancelRun(.with { $0.runID = ids[0] }, metadata: try await harness.auth())
      try await EngineTests.waitFor { try await self.status(harness, ids[2]) == .running }
      #expect(try await self.status(harness, ids[3]) == .cancelled)
      #expect(try await harness.run(ids[3]).startedAt.seconds == 0, "the cancelled queued run never started")
    }
  }

  @Test("skip_if_running: a start while a run is active is FAILED_PRECONDITION; once it ends, starts succeed")
  func skipIfRunning() async throws {
    try await EngineHarness.with { harness in
      try await self.register(harness, "exclusive", strategy: "{mode: RUN_STRATEGY_MODE_SKIP_IF_RUNNING}")
      let first = try await harness.start("exclusive").run.id
      let refused = await #expect(throws: RPCError.self) { try await harness.start("exclusive") }
      #expect(refused?.code == .failedPrecondition)
      #expect(refused?.message.contains(first) == true && refused?.message.contains("skip_if_running") == true)
      try await self.release(harness, first)
      #expect(try await harness.waitForTerminal(first).status == .completed)
      let second = try await harness.start("exclusive").run
      #expect(second.status == .running)
    }
  }

  @Test("cancel_previous: a start cancels the active runs (saying which run displaced them), then starts")
  func cancelPrevious() async throws {
    try await EngineHarness.with { harness in
      try await self.register(harness, "latest-wins", strategy: "{mode: RUN_STRATEGY_MODE_CANCEL_PREVIOUS}")
      let first = try await harness.start("latest-wins").run.id
      let second = try await harness.start("latest-wins").run.id
      let cancelled = try await harness.run(first)
      #expect(cancelled.status == .cancelled)
      #expect(cancelled.error.message.contains(second))
      #expect(try await self.status(harness, second) == .running)
      let third = try await harness.start("latest-wins").run.id
      #expect(try await self.status(harness, second) == .cancelled)
      try await self.release(harness, third)
      #expect(try await harness.waitForTerminal(third).status == .completed)
    }
  }

  @Test("concurrent starts of a sequential workflow: exactly one runs, the rest queue; idempotency keys still hold")
  func concurrentStarts() async throws {
    try await EngineHarness.with { harness in
      try await self.register(harness, "serial", strategy: "{mode: RUN_STRATEGY_MODE_SEQUENTIAL}")
      let runs = try await withThrowingTaskGroup(of: Maestro_Workflow_V1_StartRunResponse.self) { group in
        for index in 0..<12 { group.addTask { try await harness.start("serial", key: "k\(index % 6)") } }
        return try await group.reduce(into: []) { $0.append($1) }
      }
      let unique = Set(runs.map(\.run.id))
      #expect(unique.count == 6, "12 starts with 6 keys make 6 runs")
      #expect(runs.filter(\.created).count == 6)
      let statuses = try await unique.asyncMap { try await self.status(harness, $0) }
      #expect(statuses.filter { $0 == .running }.count == 1)
      #expect(statuses.filter { $0 == .pending }.count == 5)
    }
  }

  @Test("an unknown strategy field is rejected; max_concurrent_runs applies to parallel only")
  func validation() async throws {
    let issues = DefinitionValidator.validate(try DefinitionLoader.definition(yaml: """
      name: odd
      run_strategy: {mode: RUN_STRATEGY_MODE_SEQUENTIAL, max_concurrent_runs: 3}
      steps: [{id: a, type: noop}]
      """))
    #expect(issues.map(\.path) == ["run_strategy.max_concurrent_runs"])
  }
}

@Suite("ListRuns filters (real Postgres)")
struct ListRunsFilterTests {
  @Test("labels: only runs carrying every given label are listed")
  func labels() async throws {
    try await EngineHarness.with { harness in
      try await harness.register("{name: labelled, steps: [{id: a, type: noop}]}")
      let metadata = try await harness.auth()
      for (team, env) in [("red", "prod"), ("red", "dev"), ("blue", "prod")] {
        _ = try await harness.workflows.startRun(.with { $0.workflowName = "labelled"; $0.labels = ["team": team, "env": env] }, metadata: metadata)
      }
      let red = try await harness.workflows.listRuns(.with { $0.labels = ["team": "red"] }, metadata: metadata).runs
      #expect(red.count == 2 && red.allSatisfy { $0.labels["team"] == "red" })
      let redProd = try await harness.workflows.listRuns(.with { $0.labels = ["team": "red", "env": "prod"] }, metadata: metadata).runs
      #expect(redProd.count == 1 && redProd.first?.labels["env"] == "prod")
      #expect(try await harness.workflows.listRuns(.with { $0.labels = ["team": "green"] }, metadata: metadata).runs.isEmpty)
      #expect(try await harness.workflows.listRuns(.init(), metadata: metadata).runs.count == 3)
    }
  }
}

extension Sequence {
  func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
    var values: [T] = []
    for element in self { values.append(try await transform(element)) }
    return values
  }
}
