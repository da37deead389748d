public import GRPCCore
public import Prometheus

/// Per-method RPC counters and latency histograms in a Prometheus registry:
/// `maestro_grpc_requests_total{service,method,code}`,
/// `maestro_grpc_request_duration_seconds{service,method}`.
public struct RPCMetrics: Sendable {
  private let registry: PrometheusCollectorRegistry
  private let service: String

  static let buckets: [Duration] = [
    .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
    .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
    .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30),
  ]

  /// - Parameters:
  ///   - registry: The process's registry, served at `/metrics`.
  ///   - service: The executable's name, e.g. `workflow-service`.
  public init(registry: PrometheusCollectorRegistry, service: String) {
    self.registry = registry
    self.service = service
  }

  /// Records one finished RPC; `code` nil means OK.
  public func record(method: String, code: RPCError.Code?, duration: Duration) {
    let codeName = code.map { "\($0)" } ?? "ok"
    self.registry.makeCounter(
      descriptor: MetricNameDescriptor(
        namespace: "maestro", subsystem: "grpc", metricName: "requests", unitName: "total",
        helpText: "RPCs handled, by method and status code (ok for success)."
      ),
      labels: [("service", self.service), ("method", method), ("code", codeName)]
    ).increment()
    self.registry.makeDurationHistogram(
      descriptor: MetricNameDescriptor(
        namespace: "maestro", subsystem: "grpc", metricName: "request_duration", unitName: "seconds",
        helpText: "Time from an RPC's arrival to its last response message."
      ),
      labels: [("service", self.service), ("method", method)],
      buckets: Self.buckets
    ).record(duration)
  }
}
