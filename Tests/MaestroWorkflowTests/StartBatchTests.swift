import Foundation
import GRPCCore
import MaestroProtos
@testable import MaestroWorkflow
import MaestroWorkflowModel
import Synchronization
import Testing

@Suite("Group commit of StartRun")
struct GroupCommitterTests {
  /// Records the batches a write saw and how many writes overlapped.
  final class Probe: Sendable {
    struct State {
      var batches: [[Int]] = []
      var inFlight = 0
      var maxInFlight = 0
    }
    let state = Mutex(State())
  }

  @Test("concurrent items are written in batches of one key, each caller gets its own result, writes never exceed the leader cap")
  func batchesAndResults() async throws {
    let probe = Probe()
    let committer = GroupCommitter<String, Int, Int>(maxLeaders: 2, maxBatch: 8) { _, items in
      probe.state.withLock {
        $0.batches.append(items)
        $0.inFlight += 1
        $0.maxInFlight = max($0.maxInFlight, $0.inFlight)
      }
      try? await Task.sleep(for: .milliseconds(5))
      probe.state.withLock { $0.inFlight -= 1 }
      return items.map { .success($0 * 10) }
    }
    let results = await withTaskGroup(of: (Int, Int).self) { group in
      for value in 0..<200 {
        group.addTask { (value, try! await committer.submit(value, key: value.isMultiple(of: 2) ? "even" : "odd").get()) }
      }
      return await group.reduce(into: [Int: Int]()) { $0[$1.0] = $1.1 }
    }
    #expect(results.count == 200)
    #expect(results.allSatisfy { $0.value == $0.key * 10 }, "every caller receives the result of its own item")
    probe.state.withLock { state in
      #expect(state.maxInFlight <= 2, "no more writes in flight than leaders")
      #expect(state.batches.contains { $0.count > 1 }, "waiting items were written together")
      #expect(state.batches.allSatisfy { $0.count <= 8 }, "batches are bounded")
      #expect(state.batches.allSatisfy { batch in Set(batch.map { $0 % 2 }).count == 1 }, "a batch holds one key only")
      #expect(state.batches.flatMap { $0 }.sorted() == Array(0..<200), "every item was written exactly once")
    }
  }

  @Test("a failed item fails only its caller")
  func failuresStayWithTheirItem() async throws {
    struct Rejected: Error {}
    let committer = GroupCommitter<String, Int, Int>(maxLeaders: 1, maxBatch: 16) { _, items in
      try? await Task.sleep(for: .milliseconds(2))
      return items.map { $0 == 13 ? .failure(Rejected()) : .success($0) }
    }
    let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
      for value in 0..<40 {
        group.addTask { (value, (try? await committer.submit(value, key: "k").get()) != nil) }
      }
      return await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
    }
    #expect(outcomes.filter { !$0.value }.map(\.key) == [13])
  }
}

@Suite("Batched StartRun (real Postgres)")
struct StartBatchTests {
  @Test("a burst of concurrent starts: every run is created once with a gapless history, duplicate keys share one run")
  func concurrentBurst() async throws {
    try await EngineHarness.with { harness in
      try await harness.register("{name: burst, steps: [{id: a, type: noop}, {id: b, type: echo, depends_on: [a], input: {v: '${run.id}'}}]}")
      let responses = try await withThrowingTaskGroup(of: (Int, Maestro_Workflow_V1_StartRunResponse).self) { group in
        for n in 0..<60 {
          // Every fourth start reuses the key of the one before it.
          let key = n % 4 == 3 ? "key-\(n - 1)" : "key-\(n)"
          group.addTask { (n, try await harness.start("burst", key: key)) }
        }
        return try await group.reduce(into: [Int: Maestro_Workflow_V1_StartRunResponse]()) { $0[$1.0] = $1.1 }
      }
      let runIDs = Set(responses.values.map(\.run.id))
      #expect(runIDs.count == 45, "15 of the 60 starts reused a key")
      #expect(responses.values.filter(\.created).count == 45)
      for n in stride(from: 3, to: 60, by: 4) {
        #expect(responses[n]?.run.id == responses[n - 1]?.run.id, "start \(n) returns the run its key started")
      }
      for id in runIDs.prefix(10) {
        let run = try await harness.waitForTerminal(id)
        #expect(run.status == .completed)
        let sequences = try await harness.history(id).map(\.sequence)
        #expect(sequences == Array(1...Int64(sequences.count)), "events are numbered 1...n without gaps")
      }
      let stored = try await harness.adminQuery("SELECT count(*)::text FROM workflow.runs WHERE workflow_name = 'burst'")
      #expect(stored == ["45"])
    }
  }

  @Test("a start planned with a cached version that is no longer the latest is planned again with the new one")
  func staleLatestVersion() async throws {
    try await EngineHarness.with { harness in
      try await harness.register("{name: versioned, steps: [{id: a, type: noop}]}")
      let first = try await harness.start("versioned")
      #expect(first.run.workflowVersion == 1)
      // Another replica registers version 2; this replica's cache still says 1 is the latest.
      let inserted = try await harness.adminQuery(
        """
        INSERT INTO workflow.workflow_definitions (tenant, name, version, description, definition, checksum, labels, created_by)
        SELECT tenant, name, 2, description, jsonb_set(definition, '{version}', '2'), checksum, labels, created_by
        FROM workflow.workflow_definitions WHERE tenant = 'acme' AND name = 'versioned' AND version = 1
        RETURNING version::text
        """
      )
      #expect(inserted == ["2"])
      let second = try await harness.start("versioned")
      #expect(second.created)
      #expect(second.run.workflowVersion == 2, "start_runs answered 'stale' and the start was planned again")
    }
  }
}
