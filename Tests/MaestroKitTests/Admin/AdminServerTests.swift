import Hummingbird
import HummingbirdTesting
import MaestroKit
import Prometheus
import Synchronization
import Testing

@Suite("Admin HTTP")
struct AdminServerTests {
  struct NotReady: Error, CustomStringConvertible { var description: String { "database unreachable" } }

  @Test("/healthz answers, /readyz follows the readiness check, /metrics is Prometheus text")
  func endpoints() async throws {
    let registry = PrometheusCollectorRegistry()
    registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "maestro_test", unitName: "total", helpText: "test")).increment(by: Int64(3))
    let ready = Mutex(false)
    let router = AdminServer.makeRouter(registry: registry) {
      guard ready.withLock({ $0 }) else { throw NotReady() }
    }
    let app = Application(router: router)
    try await app.test(.router) { client in
      try await client.execute(uri: "/healthz", method: .get) { response in
        #expect(response.status == .ok)
      }
      try await client.execute(uri: "/readyz", method: .get) { response in
        #expect(response.status == .serviceUnavailable)
        #expect(String(buffer: response.body).contains("database unreachable"))
      }
      ready.withLock { $0 = true }
      try await client.execute(uri: "/readyz", method: .get) { response in
        #expect(response.status == .ok)
      }
      try await client.execute(uri: "/metrics", method: .get) { response in
        #expect(response.status == .ok)
        #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
        #expect(String(buffer: response.body).contains("maestro_test_total 3"))
      }
    }
  }
}
