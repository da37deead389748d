import Foundation
import GRPCCore
import MaestroProtos
@testable import MaestroWorkflow
import MaestroWorkflowModel
import SwiftProtobuf
import Testing

@Suite("External worker tasks (real Postgres)")
struct WorkerTaskTests {
  func worker(_ harness: EngineHarness, tenant: String = "acme") async throws -> Metadata {
    try await harness.auth(tenant: tenant, roles: ["workflow-operator"])
  }

  func poll(_ harness: EngineHarness, _ queues: [String], wait: Int64 = 5, tenant: String = "acme") async throws -> Maestro_Workflow_V1_Task? {
    let response = try await harness.workers.pollTask(
      .with {
        $0.taskQueues = queues
        $0.workerIdentity = "test-worker"
        $0.waitTimeout = Google_Protobuf_Duration(seconds: wait)
      },
      metadata: try await self.worker(harness, tenant: tenant)
    )
    return response.hasTask ? response.task : nil
  }

  @Test("a worker long-polls, receives the evaluated input, heartbeats and completes; the run continues with its output")
  func lifecycle() async throws {
    try await EngineHarness.with { harness in
      try await harness.register("""
        name: uses-worker
        parameters: [{name: text, type: PARAMETER_TYPE_STRING, required: true}]
        steps:
          - {id: upper, type: task, task_queue: demo.upper, input: {text: "${input.text}"}, heartbeat_timeout: 60s}
          - {id: after, type: echo, depends_on: [upper], input: {got: "${steps.upper.output.text}"}}
        output: {result: "${steps.after.output.got}"}
        """)
      // The poll starts before the work exists: it returns early when the task arrives.
      async let polled = self.poll(harness, ["other.queue", "demo.upper"], wait: 20)
      try await Task.sleep(for: .milliseconds(200))
      let started = ContinuousClock.now
      let run = try await harness.start("uses-worker", input: ["text": "maestro"]).run.id
      let task = try #require(try await polled)
      #expect(ContinuousClock.now - started < .seconds(15), "the long poll returned when the task arrived, not after its 20 s wait")
      #expect(task.runID == run && task.stepID == "upper" && task.attempt == 1 && task.taskQueue == "demo.upper")
      #expect(task.workflowName == "uses-worker" && task.heartbeatTimeout.seconds == 60)
      #expect(JSONValue(task.input) == ["text": "maestro"])
      let beat = try await harness.workers.heartbeatTask(.with { $0.taskToken = task.taskToken }, metadata: try await self.worker(harness))
      #expect(!beat.cancelRequested && beat.leaseExpiresAt.date > Date())
      _ = try await harness.workers.completeTask(
        .with {
          $0.taskToken = task.taskToken
          $0.output = JSONValue.object(["text": "MAESTRO"]).protobufStruct
        },
        metadata: try await self.worker(harness)
      )
      let finished = try await harness.waitForTerminal(run)
      #expect(finished.status == .completed)
      #expect(JSONValue(finished.output) == ["result": "MAESTRO"])
      // Completing twice is fenced off and recorded.
      let twice = await #expect(throws: RPCError.self) {
        try await harness.workers.completeTask(.with { $0.taskToken = task.taskToken }, metadata: try await self.worker(harness))
      }
      #expect(twice?.code == .failedPrecondition)
      #expect(try await harness.history(run).contains { $0.type == .taskResultRejected })
      // An empty queue returns no task after the wait.
      #expect(try await self.poll(harness, ["demo.upper"], wait: 0) == nil)
    }
  }

  @Test("a vanished worker's task is retried after its heartbeat timeout, the old attempt's result is rejected, and a failure is retried per policy")
  func heartbeatTimeoutAndFencing() async throws {
    try await EngineHarness.with { harness in
      try await harness.register("""
        {name: flaky-worker, steps: [{id: t, type: task, task_queue: q1, heartbeat_timeout: 60s,
          retry_policy: {max_attempts: 3, initial_backoff: 0.01s, max_timeout_retries: 2, max_platform_error_retries: 2}}]}
        """)
      let run = try await harness.start("flaky-worker").run.id
      let first = try #require(try await self.poll(harness, ["q1"]))
      // The worker vanishes: no heartbeat. Its lease runs out (moved into the past here, rather
      // than waiting a minute) and the sweeper queues attempt 2.
      _ = try await harness.adminQuery(
        "UPDATE workflow.step_executions SET lease_expires_at = now() - interval '1 second' WHERE run_id = '\(run)' AND attempt = 1 RETURNING 'x'"
      )
      let second = try #require(try await self.poll(harness, ["q1"], wait: 10))
      #expect(second.attempt == 2 && first.attempt == 1)
      let stale = await #expect(throws: RPCError.self) {
        try await harness.workers.completeTask(.with { $0.taskToken = first.taskToken }, metadata: try await self.worker(harness))
      }
      #expect(stale?.code == .failedPrecondition, "the first attempt's late completion is fenced off")
      let failed = try await harness.workers.failTask(
        .with {
          $0.taskToken = second.taskToken
          $0.errorMessage = "backend unavailable"
          $0.errorClass = .platform
        },
        metadata: try await self.worker(harness)
      )
      #expect(failed.willRetry)
      let third = try #require(try await self.poll(harness, ["q1"], wait: 10))
      #expect(third.attempt == 3)
      _ = try await harness.workers.completeTask(.with { $0.taskToken = third.taskToken }, metadata: try await self.worker(harness))
      let finished = try await harness.waitForTerminal(run)
      #expect(finished.status == .completed)
      let step = try #require(finished.steps.first)
      #expect(step.attempts.map(\.status) == [.failed, .failed, .completed])
      #expect(step.attempts.first?.error.errorClass == .timeout)
    }
  }

  @Test("cancelling the run reaches the worker through its heartbeat; tasks are tenant-scoped; bad requests are INVALID_ARGUMENT")
  func cancellationAndIsolation() async throws {
    try await EngineHarness.with { harness in
      try await harness.register("{name: long-task, steps: [{id: t, type: task, task_queue: q2}]}")
      let run = try await harness.start("long-task").run.id
      #expect(try await self.poll(harness, ["q2"], wait: 0, tenant: "globex") == nil, "another tenant's worker never sees it")
      let task = try #require(try await self.poll(harness, ["q2"]))
      let foreign = await #expect(throws: RPCError.self) {
        try await harness.workers.completeTask(.with { $0.taskToken = task.taskToken }, metadata: try await self.worker(harness, tenant: "globex"))
      }
      #expect(foreign?.code == .notFound)
      _ = try await harness.workflows.cancelRun(.with { $0.runID = run }, metadata: try await harness.auth())
      let beat = try await harness.workers.heartbeatTask(.with { $0.taskToken = task.taskToken }, metadata: try await self.worker(harness))
      #expect(beat.cancelRequested)
      let late = await #expect(throws: RPCError.self) {
        try await harness.workers.completeTask(.with { $0.taskToken = task.taskToken }, metadata: try await self.worker(harness))
      }
      #expect(late?.code == .failedPrecondition)
      let noQueues = await #expect(throws: RPCError.self) {
        try await harness.workers.pollTask(.with { $0.taskQueues = [] }, metadata: try await self.worker(harness))
      }
      #expect(noQueues?.code == .invalidArgument)
      let badToken = await #expect(throws: RPCError.self) {
        try await harness.workers.completeTask(.with { $0.taskToken = "garbage" }, metadata: try await self.worker(harness))
      }
      #expect(badToken?.code == .invalidArgument)
      let tooLong = await #expect(throws: RPCError.self) {
        try await harness.workers.pollTask(.with { $0.taskQueues = ["q2"]; $0.waitTimeout = Google_Protobuf_Duration(seconds: 61) }, metadata: try await self.worker(harness))
      }
      #expect(tooLong?.code == .invalidArgument)
    }
  }

  @Test("schedule_to_start_timeout: an attempt no worker claims in time times out and is retried per policy; a claimed one is unaffected")
  func scheduleToStart() async throws {
    try await EngineHarness.with { harness in
      try await harness.register("""
        name: unclaimed
        steps:
          - {id: t, type: task, task_queue: nobody.polls, schedule_to_start_timeout: 0.3s, retry_policy: {max_attempts: 2, initial_backoff: 0.01s}}
        """)
      let run = try await harness.waitForTerminal(try await harness.start("unclaimed").run.id)
      #expect(run.status == .failed)
      #expect(run.error.message.contains("schedule_to_start_timeout"))
      #expect(run.steps.first?.attempts.map(\.status) == [.timedOut, .timedOut])

      try await harness.register("""
        name: claimed
        steps: [{id: t, type: task, task_queue: quick.worker, schedule_to_start_timeout: 1s, input: {x: 1}}]
        """)
      let claimed = try await harness.start("claimed").run.id
      let task = try #require(try await self.poll(harness, ["quick.worker"]))
      // Past the schedule-to-start deadline: the claimed attempt is not touched by its timer.
      try await Task.sleep(for: .milliseconds(1_500))
      _ = try await harness.workers.completeTask(.with { $0.taskToken = task.taskToken; $0.output = ["done": true] }, metadata: try await self.worker(harness))
      let done = try await harness.waitForTerminal(claimed)
      #expect(done.status == .completed)
      #expect(done.steps.first?.attempt == 1)
    }
  }
}

@Suite("Reference worker's demo queues (pure)")
struct ReferenceWorkerTests {
  @Test("uppercase, word count, entity extraction with type and confidence filters; unknown queues fail")
  func queues() throws {
    #expect(try ReferenceWorker.handle(queue: "demo.uppercase", input: ["text": "hi there"]) == ["text": "HI THERE"])
    #expect(try ReferenceWorker.handle(queue: "demo.word-count", input: ["text": "one two  three"]) == ["words": 3, "characters": 14])
    let all = try ReferenceWorker.handle(queue: "demo.extract-entities", input: ["text": "Ada Lovelace met NASA engineers in Paris."])
    #expect(all == ["entities": [
      ["text": "Ada Lovelace", "type": "person", "confidence": 0.8],
      ["text": "NASA", "type": "organization", "confidence": 0.7],
      ["text": "Paris", "type": "location", "confidence": 0.5],
    ]])
    let people = try ReferenceWorker.handle(queue: "demo.extract-entities", input: ["text": "Ada Lovelace met NASA", "types": ["person"], "min_confidence": 0.6])
    #expect(people == ["entities": [["text": "Ada Lovelace", "type": "person", "confidence": 0.8]]])
    #expect(throws: ReferenceWorker.TaskFailure.self) { try ReferenceWorker.handle(queue: "demo.unknown", input: [:]) }
  }
}
