import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import MaestroKit
import MaestroProtos
import MaestroTestSupport
import PostgresNIO
import Testing

/// Two real workflow-service processes share one database; one is killed with SIGKILL mid-run.
@Suite("workflow-service crash recovery (two processes, kill -9, real Postgres)")
struct WorkflowCrashTests {
  static func adminCount(_ db: TestDatabase, _ sql: String) async throws -> Int {
    try await withRunningClient(try db.adminConfiguration()) { client in
      var count = -1
      for try await value in try await client.query(PostgresQuery(unsafeSQL: sql)).decode(Int.self) { count = value }
      return count
    }
  }

  @Test("killing a replica with SIGKILL loses no run and completes no step twice")
  func killNine() async throws {
    try await TestDatabase.with { db in
      try await db.migrate()
      let issuer = try await TestTokenIssuer.make()
      try await issuer.withJWKSFile { jwksFile in

        func start() throws -> ServiceProcess {
          try ServiceProcess(
            name: "workflow-service",
            arguments: ["serve", "--grpc-port", "0", "--admin-port", "0"],
            environment: [
              "MAESTRO_DATABASE_URL": db.serviceURL(schema: "workflow"),
              "MAESTRO_JWKS_FILE": jwksFile,
              "MAESTRO_ENGINE_LEASE": "2s",
              "MAESTRO_REFERENCE_TENANT": "",
              "MAESTRO_LOG_LEVEL": "info",
            ]
          )
        }
        let survivor = try start()
        let victim = try start()
        let port = try await survivor.port("grpc_port")
        _ = try await victim.port("grpc_port")

        let token = try await issuer.sign(TestTokenIssuer.claims(subject: "ops", tenant: "acme", roles: ["workflow-author"]))
        let metadata: Metadata = ["authorization": "Bearer \(token)"]
        try await withGRPCClient(
          transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
        ) { client in
          let workflows = Maestro_Workflow_V1_WorkflowService.Client(wrapping: client)
          let definition = try Maestro_Workflow_V1_WorkflowDefinition(jsonString: """
            {"name": "crashtest", "steps": [
              {"id": "a", "type": "echo", "input": {"v": 1}},
              {"id": "nap", "type": "sleep", "dependsOn": ["a"], "sleep": {"duration": "4s"}},
              {"id": "b", "type": "noop", "dependsOn": ["nap"]},
              {"id": "c", "type": "transform", "dependsOn": ["nap"], "input": {"done": true}}
            ]}
            """)
          _ = try await workflows.registerWorkflow(.with { $0.definition = definition }, metadata: metadata)
          // The 4 s nap keeps every run unfinished until well after the kill, however fast the
          // engine and however slow the machine: the kill always happens mid-run.
          for index in 0..<60 {
            _ = try await workflows.startRun(.with { $0.workflowName = "crashtest"; $0.idempotencyKey = "run-\(index)" }, metadata: metadata)
          }
        }

        // Wait until the victim has done some of the work, then kill it without warning.
        let victimPID = victim.processIdentifier
        let deadline = ContinuousClock.now + .seconds(30)
        while try await Self.adminCount(db, "SELECT count(*)::int FROM workflow.step_executions WHERE lease_owner LIKE '%/\(victimPID)'") == 0 {
          guard ContinuousClock.now < deadline else { Issue.record("the victim never claimed a step"); return }
          try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try await victim.stop(signal: SIGKILL, timeout: .seconds(5)) != nil)
        let completedAtKill = try await Self.adminCount(db, "SELECT count(*)::int FROM workflow.runs WHERE status = 'COMPLETED'")

        let finishDeadline = ContinuousClock.now + .seconds(90)
        while try await Self.adminCount(db, "SELECT count(*)::int FROM workflow.runs WHERE status = 'COMPLETED'") < 60 {
          guard ContinuousClock.now < finishDeadline, survivor.isRunning else {
            Issue.record("runs did not all complete after the kill:\n\(survivor.output.suffix(3000))")
            return
          }
          try await Task.sleep(for: .milliseconds(50))
        }
        #expect(completedAtKill < 60, "the kill happened mid-run")
        #expect(try await Self.adminCount(db, "SELECT count(*)::int FROM workflow.runs") == 60)
        #expect(try await Self.adminCount(db, "SELECT count(*)::int FROM workflow.step_executions WHERE status = 'COMPLETED'") == 240)
        #expect(try await Self.adminCount(db, """
          SELECT count(*)::int FROM (SELECT run_id, step_id FROM workflow.step_executions WHERE status = 'COMPLETED'
            GROUP BY 1, 2 HAVING count(*) > 1) twice
          """) == 0)
        #expect(try await Self.adminCount(db, "SELECT count(*)::int FROM workflow.run_events WHERE type = 'STEP_COMPLETED'") == 240)
        #expect(try await Self.adminCount(db, "SELECT count(*)::int FROM (SELECT run_id FROM workflow.run_events GROUP BY run_id HAVING max(seq) <> count(*)) gaps") == 0)
        #expect(try await survivor.stop() == 0)
      }
    }
  }
}
