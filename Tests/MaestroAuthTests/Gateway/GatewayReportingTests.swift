import Foundation
import GRPCCore
import Logging
import MaestroKit
import MaestroProtos
import Prometheus
import Testing

@testable import MaestroAuth

@Suite("gateway request outcomes reported to metrics-service")
struct GatewayReportingTests {
  /// A sink that is never run: events stay queued, so the test sees what was reported.
  struct UnusedSink: OutcomeSink {
    func send(batchID: String, events: [Maestro_Metrics_V1_OutcomeEvent]) async throws -> Int { 0 }
  }

  @Test("a forwarded request becomes a REQUEST outcome with its route, HTTP status and duration; 5xx counts as failed")
  func eventMapping() {
    let ok = MetricsGatewayOutcomeReporter.event(
      GatewayRequestOutcome(transport: .grpc, method: "maestro.workflow.v1.WorkflowService/StartRun", backend: "workflow-service",
        tenant: "acme", code: nil, duration: .milliseconds(1500), requestID: "r1"),
      tenant: "acme", now: Date(timeIntervalSince1970: 1_800_000_000))
    #expect(ok.kind == .request)
    #expect(ok.tenant == "acme")
    #expect(ok.route == "/maestro.workflow.v1.WorkflowService/StartRun")
    #expect(ok.httpStatus == 200)
    #expect(ok.status == .succeeded)
    #expect(ok.duration.seconds == 1 && ok.duration.nanos == 500_000_000)

    let down = MetricsGatewayOutcomeReporter.event(
      GatewayRequestOutcome(transport: .rest, method: "maestro.scheduler.v1.SchedulerService/ListSchedules", backend: "scheduler",
        tenant: "acme", code: .unavailable, duration: .zero, requestID: "r2"),
      tenant: "acme", now: Date())
    #expect(down.httpStatus == 503)
    #expect(down.status == .failed)

    let denied = MetricsGatewayOutcomeReporter.event(
      GatewayRequestOutcome(transport: .grpc, method: "maestro.workflow.v1.WorkflowService/GetRun", backend: "workflow-service",
        tenant: "acme", code: .permissionDenied, duration: .zero, requestID: "r3"),
      tenant: "acme", now: Date())
    #expect(denied.httpStatus == 403)
    #expect(denied.status == .succeeded, "a client error is not the platform's failure")
  }

  @Test("requests without a tenant (no or bad token) are not reported; the others are queued without waiting")
  func tenantless() {
    let reporter = OutcomeReporter(sink: UnusedSink(), registry: PrometheusCollectorRegistry(), logger: Logger(label: "test"))
    let gateway = MetricsGatewayOutcomeReporter(reporter: reporter)
    gateway.report(GatewayRequestOutcome(transport: .grpc, method: "m/A", backend: "b", tenant: nil, code: .unauthenticated, duration: .zero, requestID: "1"))
    #expect(reporter.queued == 0)
    gateway.report(GatewayRequestOutcome(transport: .grpc, method: "m/A", backend: "b", tenant: "acme", code: nil, duration: .zero, requestID: "2"))
    #expect(reporter.queued == 1)
  }
}
