import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import MaestroKit
import MaestroProtos
import MaestroTestSupport
import Testing

/// The shipped reference workflow, registered by a real workflow-service process at startup and
/// run over real gRPC.
@Suite("hello-world through the workflow-service process (real Postgres)")
struct HelloWorldProcessTests {
  @Test("the reference hello-world is registered at startup and completes well inside its 30 s SLA")
  func helloWorld() async throws {
    try await TestDatabase.with { db in
      try await db.migrate()
      let issuer = try await TestTokenIssuer.make()
      try await issuer.withJWKSFile { jwksFile in
        let service = try ServiceProcess(
          name: "workflow-service",
          arguments: ["serve", "--grpc-port", "0", "--admin-port", "0"],
          environment: [
            "MAESTRO_DATABASE_URL": db.serviceURL(schema: "workflow"),
            "MAESTRO_JWKS_FILE": jwksFile,
            "MAESTRO_WORKFLOWS_DIR": TestEnvironment.servicesRoot + "/workflow-service/workflows",
            "MAESTRO_REFERENCE_TENANT": "default",
          ]
        )
        let port = try await service.port("grpc_port")
        _ = try await service.waitForLogValue("workflow")  // "registered reference workflow"
        let token = try await issuer.sign(TestTokenIssuer.claims(subject: "ops", tenant: "default", roles: ["workflow-operator"]))
        let metadata: Metadata = ["authorization": "Bearer \(token)"]
        try await withGRPCClient(
          transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
        ) { client in
          let workflows = Maestro_Workflow_V1_WorkflowService.Client(wrapping: client)
          let registered = try await workflows.getWorkflow(.with { $0.name = "hello-world" }, metadata: metadata).workflow
          #expect(registered.definition.sla.seconds == 30)
          let started = try await workflows.startRun(.with { $0.workflowName = "hello-world" }, metadata: metadata)
          let last = try await workflows.watchRun(.with { $0.runID = started.run.id }, metadata: metadata) { response in
            var last = Maestro_Workflow_V1_RunEvent()
            for try await message in response.messages { last = message.event }
            return last
          }
          #expect(last.type == .runCompleted)
          let run = try await workflows.getRun(.with { $0.runID = started.run.id }, metadata: metadata).run
          #expect(run.status == .completed)
          #expect(run.slaMet == true)
          #expect(run.output.fields["status"]?.stringValue == "healthy")
          let seconds = run.completedAt.date.timeIntervalSince(run.startedAt.date)
          #expect(seconds < 30, "hello-world took \(seconds) s")
        }
        #expect(try await service.stop() == 0)
      }
    }
  }
}
