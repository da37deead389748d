import Foundation
import GRPCCore
import MaestroCore
public import MaestroKit
import MaestroProtos
import SwiftProtobuf

/// Reports every forwarded request to metrics-service as a REQUEST outcome (route = the backend
/// RPC, HTTP status from the standard gRPC→HTTP mapping, so "requests without 5xx" SLIs work),
/// through the asynchronous, bounded ``OutcomeReporter``: reporting never slows a request, and
/// what cannot be delivered is dropped and counted. Requests without a tenant (no or bad token)
/// are not reported: they belong to no tenant's SLO.
public struct MetricsGatewayOutcomeReporter: GatewayOutcomeReporter {
  let reporter: OutcomeReporter

  public init(reporter: OutcomeReporter) { self.reporter = reporter }

  public func report(_ outcome: GatewayRequestOutcome) {
    guard let tenant = outcome.tenant, !tenant.isEmpty else { return }
    self.reporter.report(Self.event(outcome, tenant: tenant, now: Date()))
  }

  static func event(_ outcome: GatewayRequestOutcome, tenant: String, now: Date) -> Maestro_Metrics_V1_OutcomeEvent {
    .with {
      $0.kind = .request
      $0.tenant = tenant
      $0.route = "/" + outcome.method
      let code = outcome.code.map { MaestroError.Code($0) }
      $0.httpStatus = Int32(code?.httpStatus ?? 200)
      $0.code = outcome.code.map { String(describing: $0) } ?? "ok"
      $0.status = (code?.httpStatus ?? 200) >= 500 ? .failed : .succeeded
      let seconds = Double(outcome.duration.components.seconds) + Double(outcome.duration.components.attoseconds) / 1e18
      $0.duration = Google_Protobuf_Duration(seconds: Int64(seconds), nanos: Int32((seconds - seconds.rounded(.down)) * 1e9))
      $0.occurredAt = Google_Protobuf_Timestamp(date: now)
    }
  }
}
