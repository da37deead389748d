import Foundation
import GRPCCore
import Logging
import MaestroKit
import MaestroProtos
import MaestroTestSupport
@testable import MaestroWorkflow
import MaestroWorkflowModel
import PostgresNIO
import Testing

@Suite("Workflow tenancy, concurrency and recovery (real Postgres)")
struct IsolationAndRecoveryTests {
  @Test("another tenant's run and workflow are NOT_FOUND; row-level security hides them in the database")
  func tenantIsolation() async throws {
    try await EngineHarness.with { harness in
      try await harness.register("{name: secret, steps: [{id: a, type: noop}]}", tenant: "acme")
      let run = try await harness.waitForTerminal(try await harness.start("secret", tenant: "acme").run.id, tenant: "acme")

      let notFound = await #expect(throws: RPCError.self) { try await harness.run(run.id, tenant: "globex") }
      #expect(notFound?.code == .notFound)
      let noWorkflow = await #expect(throws: RPCError.self) { try await harness.start("secret", tenant: "globex") }
      #expect(noWorkflow?.code == .notFound)
      let listed = try await harness.workflows.listRuns(.init(), metadata: try await harness.auth(tenant: "globex"))
      #expect(listed.runs.isEmpty)

      // In the database itself: the service role sees only the tenant set on the transaction,
      // nothing without one, and cannot write rows for another tenant.
      try await withRunningClient(try harness.db.serviceConfiguration(schema: "workflow")) { client in
        for (tenant, expected) in [("acme", 1), ("globex", 0), ("", 0)] {
          let count = try await client.withTransaction(logger: Logger(label: "t")) { connection in
            if !tenant.isEmpty { _ = try await connection.query("SELECT set_config('maestro.tenant', \(tenant), true)", logger: Logger(label: "t")).collect() }
            let rows = try await connection.query("SELECT count(*)::int FROM runs", logger: Logger(label: "t"))
            var count = -1
            for try await value in rows.decode(Int.self) { count = value }
            return count
          }
          #expect(count == expected, "tenant '\(tenant)'")
        }
        let error = await #expect(throws: (any Error).self) {
          try await client.withTransaction(logger: Logger(label: "t")) { connection in
            _ = try await connection.query("SELECT set_config('maestro.tenant', 'globex', true)", logger: Logger(label: "t")).collect()
            _ = try await connection.query("INSERT INTO runs (tenant, workflow_name, workflow_version, status) VALUES ('acme', 'x', 1, 'RUNNING')", logger: Logger(label: "t")).collect()
          }
        }
        #expect("\(String(reflecting: error))".contains("42501") || "\(String(reflecting: error))".contains("row-level security"))
      }
    }
  }

  @Test("two engine replicas racing over 200 runs: every run completes and no step completes twice")
  func replicasRace() async throws {
    try await EngineHarness.with(replicas: 2) { harness in
      try await harness.register("""
        name: race
        steps:
          - {id: a, type: echo, input: {x: 1}}
          - {id: b, type: noop, depends_on: [a]}
          - {id: c, type: noop, depends_on: [a]}
          - {id: d, type: transform, depends_on: [b, c], input: {done: true}}
        """)
      let ids = try await withThrowingTaskGroup(of: String.self) { group in
        for _ in 0..<200 { group.addTask { try await harness.start("race").run.id } }
        return try await group.reduce(into: [String]()) { $0.append($1) }
      }
      try await EngineTests.waitFor(timeout: .seconds(60)) {
        try await harness.adminQuery("SELECT count(*)::text FROM workflow.runs WHERE status = 'COMPLETED'") == ["200"]
      }
      #expect(Set(ids).count == 200)
      #expect(try await harness.adminQuery("SELECT count(*)::text FROM workflow.step_executions WHERE status = 'COMPLETED'") == ["800"])
      #expect(try await harness.adminQuery("SELECT count(*)::text FROM workflow.run_events WHERE type = 'STEP_COMPLETED'") == ["800"])
      let owners = try await harness.adminQuery("SELECT DISTINCT lease_owner FROM workflow.step_executions WHERE lease_owner IS NOT NULL ORDER BY 1")
      #expect(owners == ["replica-0", "replica-1"], "both replicas did work")
      // Gapless per-run event sequences.
      #expect(try await harness.adminQuery("""
        SELECT count(*)::text FROM (SELECT run_id FROM workflow.run_events GROUP BY run_id HAVING max(seq) <> count(*)) gaps
        """) == ["0"])
    }
  }

  @Test("a crashed replica's claimed step is re-queued after its lease; its late completion is fenced off")
  func leaseExpiryRecovery() async throws {
    try await EngineHarness.with(replicas: 2, startRunners: false) { harness in
      try await harness.register("{name: crashy, steps: [{id: a, type: echo, input: {v: 1}}]}")
      let id = try await harness.start("crashy").run.id
      // Replica 0 claims the step and "crashes" before recording it.
      let claimed = try await harness.replicas[0].claim(limit: 10)
      #expect(claimed.count == 1)
      #expect(try await harness.replicas[1].claim(limit: 10).isEmpty, "a leased step is not claimable")

      // After the lease (2 s) replica 1's sweeper re-queues it and replica 1 completes it.
      try await EngineTests.waitFor {
        try await harness.replicas[1].requeueExpiredLeases() == 1
      }
      let reclaimed = try await harness.replicas[1].claim(limit: 10)
      #expect(reclaimed.count == 1 && reclaimed[0].leaseToken != claimed[0].leaseToken)
      try await harness.replicas[1].execute(reclaimed)
      #expect(try await harness.run(id).status == .completed)

      // The old holder's completion arrives late: rejected, nothing recorded twice.
      let accepted = try await harness.replicas[0].recordAttempt(claimed[0], result: .completed(output: ["late": true]))
      #expect(!accepted)
      #expect(try await harness.adminQuery("SELECT count(*)::text FROM workflow.run_events WHERE type = 'STEP_COMPLETED'") == ["1"])
      #expect(JSONValue(try await harness.run(id).steps[0].output) == ["v": 1])
    }
  }

  @Test("bad input is INVALID_ARGUMENT with the field path; lists are paginated")
  func apiValidationAndPaging() async throws {
    try await EngineHarness.with { harness in
      let bad = try DefinitionLoader.definition(yaml: "{name: w, steps: [{id: a, type: noop, depends_on: [ghost]}]}")
      let error = await #expect(throws: RPCError.self) {
        try await harness.workflows.registerWorkflow(.with { $0.definition = bad }, metadata: try await harness.auth())
      }
      #expect(error?.code == .invalidArgument)
      #expect(error?.message.contains("steps[0].depends_on[0]: unknown step 'ghost'") == true)
      #expect(error.map { Array($0.metadata[stringValues: "maestro-field"]) } == ["steps[0].depends_on[0]"])

      let validated = try await harness.workflows.validateWorkflow(.with { $0.definition = bad }, metadata: try await harness.auth())
      #expect(!validated.valid && validated.issues.map(\.code) == ["unknown_dependency"])

      try await harness.register("{name: typed, parameters: [{name: n, type: PARAMETER_TYPE_INTEGER, required: true}], steps: [{id: a, type: noop}]}")
      let badInput = await #expect(throws: RPCError.self) { try await harness.start("typed", input: ["n": "seven"]) }
      #expect(badInput?.code == .invalidArgument)
      #expect(badInput?.message.contains("input.n: expected an integer, got string") == true)
      for (field, call) in [
        ("run_id", { _ = try await harness.run("not-a-uuid") }),
        ("page_token", { _ = try await harness.workflows.listRuns(.with { $0.pageToken = "garbage!" }, metadata: try await harness.auth()) }),
        ("page_size", { _ = try await harness.workflows.listRuns(.with { $0.pageSize = -1 }, metadata: try await harness.auth()) }),
      ] as [(String, () async throws -> Void)] {
        let error = await #expect(throws: RPCError.self) { try await call() }
        #expect(error?.code == .invalidArgument, "\(field)")
        #expect(error.map { Array($0.metadata[stringValues: "maestro-field"]) } == [field])
      }

      for index in 0..<7 { _ = try await harness.start("typed", input: ["n": .number(Double(index))]) }
      var seen: [String] = []
      var token = ""
      repeat {
        let page = try await harness.workflows.listRuns(.with { $0.pageSize = 3; $0.pageToken = token; $0.workflowName = "typed" }, metadata: try await harness.auth())
        #expect(page.runs.count <= 3)
        seen += page.runs.map(\.id)
        token = page.nextPageToken
      } while !token.isEmpty
      #expect(seen.count == 7 && Set(seen).count == 7)

      let forbidden = await #expect(throws: RPCError.self) {
        try await harness.workflows.startRun(.with { $0.workflowName = "typed" }, metadata: try await harness.auth(roles: ["viewer"]))
      }
      #expect(forbidden?.code == .permissionDenied)
    }
  }
}
