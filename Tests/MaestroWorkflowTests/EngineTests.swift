import Foundation
import GRPCCore
import MaestroProtos
import MaestroTestSupport
@testable import MaestroWorkflow
import MaestroWorkflowModel
import SwiftProtobuf
import Testing

@Suite("Workflow engine (real Postgres)")
struct EngineTests {
  @Test("hello-world runs to COMPLETED well inside its 30 s SLA, and WatchRun streams it live")
  func helloWorld() async throws {
    try await EngineHarness.with { harness in
      let yaml = try String(contentsOfFile: TestEnvironment.repositoryRoot + "/services/workflow-service/workflows/reference/hello-world.yaml", encoding: .utf8)
      let workflow = try await harness.register(yaml)
      #expect(workflow.definition.version == 1)
      #expect(try await harness.register(yaml).definition.version == 1, "registering the same definition again is a no-op")

      let started = try await harness.start("hello-world", input: ["who": "maestro"])
      #expect(started.created)
      let types = try await harness.workflows.watchRun(.with { $0.runID = started.run.id }, metadata: try await harness.auth()) { response in
        var types: [Maestro_Workflow_V1_RunEventType] = []
        for try await message in response.messages { types.append(message.event.type) }
        return types
      }
      #expect(types.first == .runCreated)
      #expect(types.last == .runCompleted)
      // The sleep wakes 1 s after it became ready: through a durable timer, or at once when an
      // executor only reaches it after that (a loaded machine).
      #expect(types.contains(.timerFired) || !types.contains(.timerStarted))
      #expect(types.filter { $0 == .stepCompleted }.count == 5)

      let run = try await harness.run(started.run.id)
      #expect(run.status == .completed)
      #expect(JSONValue(run.output) == ["status": "healthy", "greeting": "hello, maestro"])
      #expect(run.slaMet == true)
      let elapsed = run.completedAt.date.timeIntervalSince(run.startedAt.date)
      #expect(elapsed >= 1 && elapsed < 30, "took \(elapsed) s")
      #expect(run.steps.map(\.status) == Array(repeating: .completed, count: 5))
      // The parallel pair ran between greet and the sleep.
      let byID = Dictionary(uniqueKeysWithValues: run.steps.map { ($0.stepID, $0) })
      #expect(byID["check_engine"]!.startedAt.date >= byID["greet"]!.completedAt.date)
      #expect(byID["pause"]!.startedAt.date >= byID["check_clock"]!.completedAt.date)
    }
  }

  @Test("every built-in step type; a switch chooses one branch; conditions skip; the join still runs")
  func stepTypes() async throws {
    try await EngineHarness.with { harness in
      try await harness.register("""
        name: types
        parameters: [{name: n, type: PARAMETER_TYPE_INTEGER, required: true}]
        steps:
          - {id: start, type: echo, input: {n: "${input.n}"}}
          - id: route
            type: switch
            depends_on: [start]
            switch:
              cases:
                - {name: big, condition: "steps.start.output.n > 10", steps: [big]}
              default_steps: [small]
          - {id: big, type: transform, depends_on: [route], input: {size: big}}
          - {id: small, type: transform, depends_on: [route], input: {size: "small ${steps.start.output.n}"}}
          - {id: skipped, type: noop, depends_on: [start], when: "input.n < 0"}
          - {id: after_skipped, type: noop, depends_on: [skipped]}
          - {id: join, type: noop, depends_on: [big, small]}
          - {id: nap, type: sleep, depends_on: [join], sleep: {duration: 100ms}}
        output: {size: "${default(steps.big.output.size, steps.small.output.size)}", branch: "${steps.route.output.branch}"}
        """)
      let run = try await harness.waitForTerminal(try await harness.start("types", input: ["n": 3]).run.id)
      #expect(run.status == .completed)
      #expect(JSONValue(run.output) == ["size": "small 3", "branch": "default"])
      let statuses = Dictionary(uniqueKeysWithValues: run.steps.map { ($0.stepID, $0.status) })
      #expect(statuses == [
        "start": .completed, "route": .completed, "big": .skipped, "small": .completed,
        "skipped": .skipped, "after_skipped": .skipped, "join": .completed, "nap": .completed,
      ])
    }
  }

  @Test("retries then success: failed attempts are retried with backoff and the run completes")
  func retriesThenSuccess() async throws {
    try await EngineHarness.with(executor: FlakyExecutor(failures: 2)) { harness in
      try await harness.register("""
        name: flaky
        steps:
          - {id: flaky_step, type: echo, input: {ok: true}, retry_policy: {max_attempts: 3, initial_backoff: 50ms, jitter: 0.1}}
        """)
      let run = try await harness.waitForTerminal(try await harness.start("flaky").run.id)
      #expect(run.status == .completed)
      #expect(run.steps[0].attempt == 3)
      #expect(run.steps[0].attempts.map(\.status) == [.failed, .failed, .completed])
      let events = try await harness.history(run.id).map(\.type)
      #expect(events.filter { $0 == .stepRetryScheduled }.count == 2)
    }
  }

  @Test("retries exhausted fail the run with the step's error")
  func retriesExhausted() async throws {
    try await EngineHarness.with { harness in
      try await harness.register("""
        name: doomed
        steps:
          - {id: boom, type: fail, fail: {message: "no luck", error_class: ERROR_CLASS_PLATFORM}, retry_policy: {max_attempts: 3, initial_backoff: 20ms}}
          - {id: never, type: noop, depends_on: [boom]}
        """)
      let run = try await harness.waitForTerminal(try await harness.start("doomed").run.id)
      #expect(run.status == .failed)
      #expect(run.error.message == "no luck")
      #expect(run.error.errorClass == .platform)
      #expect(run.steps.first { $0.stepID == "boom" }?.attempts.count == 3)
      #expect(run.steps.first { $0.stepID == "never" }?.status == .pending)
    }
  }

  @Test("a step timeout fails the attempt as TIMEOUT; the timeout budget then fails the run")
  func stepTimeout() async throws {
    try await EngineHarness.with { harness in
      try await harness.register("""
        name: slow-step
        steps:
          - {id: nap, type: sleep, sleep: {duration: 60s}, timeout: 200ms, retry_policy: {max_attempts: 5, initial_backoff: 10ms, max_timeout_retries: 1}}
        """)
      let run = try await harness.waitForTerminal(try await harness.start("slow-step").run.id)
      #expect(run.status == .failed)
      #expect(run.error.errorClass == .timeout)
      #expect(run.steps[0].attempts.map(\.status) == [.timedOut, .timedOut])
    }
  }

  @Test("a run timeout ends the run TIMED_OUT and cancels what was in flight")
  func runTimeout() async throws {
    try await EngineHarness.with { harness in
      try await harness.register("""
        name: slow-run
        run_timeout: 300ms
        steps: [{id: nap, type: sleep, sleep: {duration: 60s}}]
        """)
      let run = try await harness.waitForTerminal(try await harness.start("slow-run").run.id)
      #expect(run.status == .timedOut)
      #expect(run.steps[0].status == .cancelled)
      #expect(try await harness.adminQuery("SELECT count(*)::text FROM workflow.timers") == ["0"])
    }
  }

  @Test("an SLA breach is recorded, not a failure")
  func slaMissed() async throws {
    try await EngineHarness.with { harness in
      try await harness.register("""
        name: late
        sla: 200ms
        steps: [{id: nap, type: sleep, sleep: {duration: 600ms}}]
        """)
      let run = try await harness.waitForTerminal(try await harness.start("late").run.id)
      #expect(run.status == .completed)
      #expect(run.slaMet == false)
      #expect(try await harness.history(run.id).contains { $0.type == .runSlaMissed })
    }
  }

  @Test("cancel abandons running steps and a late completion is fenced off")
  func cancel() async throws {
    try await EngineHarness.with { harness in
      try await harness.register("""
        name: long
        steps: [{id: nap, type: sleep, sleep: {duration: 60s}}, {id: after, type: noop, depends_on: [nap]}]
        """)
      let id = try await harness.start("long").run.id
      try await Self.waitFor { try await harness.run(id).steps.first?.status == .waiting }
      let cancelled = try await harness.workflows.cancelRun(.with { $0.runID = id; $0.reason = "test" }, metadata: try await harness.auth()).run
      #expect(cancelled.status == .cancelled)
      let run = try await harness.run(id)
      #expect(run.steps.map(\.status) == [.cancelled, .pending])
      #expect(try await harness.workflows.cancelRun(.with { $0.runID = id }, metadata: try await harness.auth()).run.status == .cancelled, "cancel is idempotent")
      #expect(try await harness.adminQuery("SELECT count(*)::text FROM workflow.timers") == ["0"])
    }
  }

  @Test("retry-from-failed restarts only the failed step and keeps completed outputs")
  func retryFromFailed() async throws {
    try await EngineHarness.with(executor: FlakyExecutor(failures: 1)) { harness in
      try await harness.register("""
        name: twostep
        steps:
          - {id: first, type: echo, input: {v: 1}}
          - {id: flaky, type: echo, depends_on: [first], input: {got: "${steps.first.output.v}"}, retry_policy: {max_attempts: 1}}
        output: {got: "${steps.flaky.output.got}"}
        """)
      let failed = try await harness.waitForTerminal(try await harness.start("twostep").run.id)
      #expect(failed.status == .failed)
      let retried = try await harness.workflows.retryRun(.with { $0.runID = failed.id }, metadata: try await harness.auth()).run
      #expect(retried.runAttempt == 2)
      let run = try await harness.waitForTerminal(failed.id)
      #expect(run.status == .completed)
      #expect(JSONValue(run.output) == ["got": 1])
      #expect(run.steps.first { $0.stepID == "first" }?.attempts.count == 1, "the completed step was not re-run")
      #expect(run.steps.first { $0.stepID == "flaky" }?.attempt == 2)
      let notRetryable = await #expect(throws: RPCError.self) {
        try await harness.workflows.retryRun(.with { $0.runID = run.id }, metadata: try await harness.auth())
      }
      #expect(notRetryable?.code == .failedPrecondition)
    }
  }

  @Test("starting is idempotent per tenant by key; a key reused for another workflow is ALREADY_EXISTS")
  func idempotentStart() async throws {
    try await EngineHarness.with { harness in
      try await harness.register("{name: one, steps: [{id: a, type: noop}]}")
      try await harness.register("{name: two, steps: [{id: a, type: noop}]}")
      let first = try await harness.start("one", key: "order-42")
      let again = try await harness.start("one", key: "order-42")
      #expect(first.created && !again.created)
      #expect(first.run.id == again.run.id)
      let otherTenant = try await { () async throws -> Maestro_Workflow_V1_StartRunResponse in
        try await harness.register("{name: one, steps: [{id: a, type: noop}]}", tenant: "globex")
        return try await harness.start("one", key: "order-42", tenant: "globex")
      }()
      #expect(otherTenant.created && otherTenant.run.id != first.run.id)
      let conflict = await #expect(throws: RPCError.self) { try await harness.start("two", key: "order-42") }
      #expect(conflict?.code == .alreadyExists)
      // Concurrent starts with one key create one run.
      let ids = try await withThrowingTaskGroup(of: String.self) { group in
        for _ in 0..<8 { group.addTask { try await harness.start("one", key: "burst").run.id } }
        return try await group.reduce(into: Set<String>()) { $0.insert($1) }
      }
      #expect(ids.count == 1)
    }
  }

  static func waitFor(timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
      guard ContinuousClock.now < deadline else {
        Issue.record("condition not met within \(timeout)")
        return
      }
      try await Task.sleep(for: .milliseconds(20))
    }
  }
}
