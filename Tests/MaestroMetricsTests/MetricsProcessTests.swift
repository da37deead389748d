import Crypto
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import MaestroKit
import MaestroProtos
import MaestroTestSupport
import Testing

/// The Done-when of the metrics issue with real processes: auth-gateway, metrics-service and
/// workflow-service (reporting as its bootstrapped service account) on one test database.
@Suite("metrics-service with workflow-service and the gateway (real processes)")
struct MetricsProcessTests {
  @Test("hello-world runs show up in SLO status and workflow stats; a failure burst fires an alert to a webhook")
  func endToEnd() async throws {
    try await TestReceiver.with { hook in
      try await TestDatabase.with { db in
        try await db.migrate()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("maestro-metrics-e2e-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let masterKey = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString()
        let gateway = try ServiceProcess(
          name: "auth-gateway",
          arguments: ["serve", "--grpc-port", "0", "--admin-port", "0", "--rest-port", "0"],
          environment: [
            "MAESTRO_DATABASE_URL": db.serviceURL(schema: "auth"), "MAESTRO_MASTER_KEY": masterKey,
            "MAESTRO_BOOTSTRAP_ADMIN_PASSWORD": "e2e admin password", "MAESTRO_BOOTSTRAP_SECRETS_DIR": directory + "/secrets",
          ])
        let gatewayPort = try await gateway.port("grpc_port")
        let restPort = try await gateway.port("rest_port")
        let jwks = "http://127.0.0.1:\(restPort)/.well-known/jwks.json"
        let metrics = try ServiceProcess(
          name: "metrics-service",
          arguments: ["serve", "--grpc-port", "0", "--admin-port", "0"],
          environment: [
            "MAESTRO_DATABASE_URL": db.serviceURL(schema: "metrics"), "MAESTRO_JWKS_URL": jwks,
            "MAESTRO_METRICS_EVALUATION_INTERVAL": "500ms", "MAESTRO_METRICS_DISPATCH_INTERVAL": "200ms",
          ])
        let metricsPort = try await metrics.port("grpc_port")
        // The gateway writes the backends' secrets during bootstrap, before it serves.
        #expect(try await eventually(timeout: .seconds(60)) { FileManager.default.fileExists(atPath: directory + "/secrets/workflow-service.secret") })
        let workflow = try ServiceProcess(
          name: "workflow-service",
          arguments: ["serve", "--grpc-port", "0", "--admin-port", "0"],
          environment: [
            "MAESTRO_DATABASE_URL": db.serviceURL(schema: "workflow"), "MAESTRO_JWKS_URL": jwks,
            "MAESTRO_WORKFLOWS_DIR": TestEnvironment.servicesRoot + "/workflow-service/workflows", "MAESTRO_REFERENCE_TENANT": "default",
            "MAESTRO_METRICS_TARGET": "127.0.0.1:\(metricsPort)", "MAESTRO_AUTH_TARGET": "127.0.0.1:\(gatewayPort)",
            "MAESTRO_CLIENT_SECRET_FILE": directory + "/secrets/workflow-service.secret", "MAESTRO_REPORTER_FLUSH_INTERVAL": "100ms",
          ])
        let workflowPort = try await workflow.port("grpc_port")
        _ = try await workflow.waitForLogValue("workflow")  // reference workflows registered

        try await withGRPCClient(transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: gatewayPort), transportSecurity: .plaintext)) { gatewayClient in
          let token = try await Maestro_Auth_V1_AuthService.Client(wrapping: gatewayClient).token(.with {
            $0.grantType = "password"
            $0.username = "admin"
            $0.password = "e2e admin password"
          }).accessToken
          let auth: Metadata = ["authorization": "Bearer \(token)"]
          try await withGRPCClient(transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: workflowPort), transportSecurity: .plaintext)) { workflowClient in
            try await withGRPCClient(transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: metricsPort), transportSecurity: .plaintext)) { metricsClient in
              let workflows = Maestro_Workflow_V1_WorkflowService.Client(wrapping: workflowClient)
              let api = Maestro_Metrics_V1_MetricsService.Client(wrapping: metricsClient)
              for _ in 0..<3 {
                let run = try await workflows.startRun(.with { $0.workflowName = "hello-world" }, metadata: auth).run
                _ = try await workflows.watchRun(.with { $0.runID = run.id }, metadata: auth) { response in
                  for try await _ in response.messages {}
                }
              }
              #expect(try await eventually(timeout: .seconds(30)) {
                (try? await api.getWorkflowStats(.with { $0.workflow = "hello-world" }, metadata: auth).stats.count) == 3
              }, "workflow stats never reached 3 runs:\n\(workflow.output.suffix(3000))")
              let stats = try await api.getWorkflowStats(.with { $0.workflow = "hello-world" }, metadata: auth).stats
              #expect(stats.successRate == 1)
              #expect(stats.slaMetRate == 1)
              #expect(stats.p50.seconds < 30)
              let status = try await api.getSLOStatus(.with { $0.sloName = "hello-world-within-30s" }, metadata: auth).status
              #expect(status.totalEvents == 3)
              #expect(status.sli == 1)
              #expect(status.withinObjective)

              // A failure burst: 10 runs of a workflow that fails.
              _ = try await api.createReceiver(.with {
                $0.receiver = .with { $0.name = "webhook"; $0.type = .webhook; $0.url = hook.url; $0.severities = [.critical] }
              }, metadata: auth)
              _ = try await workflows.registerWorkflow(.with {
                $0.definition = .with {
                  $0.name = "always-fails"
                  $0.steps = [.with { $0.id = "boom"; $0.type = "fail"; $0.fail = .with { $0.message = "forced failure"; $0.nonRetryable = true } }]
                }
              }, metadata: auth)
              for _ in 0..<10 { _ = try await workflows.startRun(.with { $0.workflowName = "always-fails" }, metadata: auth) }
              let notified = try await eventually(timeout: .seconds(60)) {
                hook.accepted.contains { $0.contains("workflow-success-rate") && $0.contains("page-fast") }
              }
              if !notified {
                let status = try? await api.getSLOStatus(.with { $0.sloName = "workflow-success-rate" }, metadata: auth).status
                Issue.record("no alert reached the webhook; status \(String(describing: status)); receiver saw \(hook.attempts) requests\nworkflow-service:\n\(workflow.output.suffix(4000))\nmetrics-service:\n\(metrics.output.suffix(2000))")
              }
              let alerts = try await api.listAlerts(.with { $0.sloName = "workflow-success-rate" }, metadata: auth).alerts
              #expect(alerts.contains { $0.windowName == "page-fast" && $0.state == .firing })
            }
          }
        }
        #expect(try await workflow.stop() == 0)
        #expect(try await metrics.stop() == 0)
        #expect(try await gateway.stop() == 0)
      }
    }
  }
}
