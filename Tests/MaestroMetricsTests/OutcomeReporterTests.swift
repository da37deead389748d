import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import MaestroCore
import MaestroKit
@testable import MaestroMetrics
import MaestroProtos
import MaestroTestSupport
import Prometheus
import ServiceLifecycle
import Synchronization
import Testing

/// A sink that never answers (a hung metrics-service), until cancelled.
struct StalledSink: OutcomeSink {
  func send(batchID: String, events: [Maestro_Metrics_V1_OutcomeEvent]) async throws -> Int {
    try await Task.sleep(for: .seconds(3600))
    return 0
  }
}

struct StaticToken: AccessTokenSource {
  let value: String
  func token() async throws -> String { self.value }
}

/// The value of a counter/gauge line in the registry's text output.
func metricValue(_ registry: PrometheusCollectorRegistry, _ line: String) -> Double? {
  for text in registry.emitToString().split(separator: "\n") where text.hasPrefix(line + " ") {
    return Double(text.dropFirst(line.count + 1))
  }
  return nil
}

/// Polls `condition` until it holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws -> Bool {
  let deadline = ContinuousClock.now + timeout
  while ContinuousClock.now < deadline {
    if try await condition() { return true }
    try await Task.sleep(for: .milliseconds(50))
  }
  return try await condition()
}

@Suite("OutcomeReporter: asynchronous, batched, bounded delivery")
struct OutcomeReporterTests {
  static func event(_ index: Int, tenant: String = "default") -> Maestro_Metrics_V1_OutcomeEvent {
    MetricsHarness.run("w\(index % 3)", tenant: tenant, status: index % 10 == 0 ? .failed : .succeeded, at: Date())
  }

  @Test("a hung metrics-service never blocks report(): the queue stays bounded and overflow is counted")
  func stalledSinkDropsAndCounts() async throws {
    let registry = PrometheusCollectorRegistry()
    var configuration = OutcomeReporter.Configuration()
    configuration.queueCapacity = 100
    configuration.batchSize = 10
    configuration.flushInterval = .milliseconds(10)
    configuration.sendTimeout = .seconds(3600)
    let reporter = OutcomeReporter(sink: StalledSink(), configuration: configuration, registry: registry, logger: Logger(label: "test.reporter"))
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await reporter.run() }
      // Let the sender take a first batch and hang on it.
      for index in 0..<10 { reporter.report(Self.event(index)) }
      let taken = try await eventually { reporter.queued == 0 }
      #expect(taken)
      for index in 0..<1000 { reporter.report(Self.event(index)) }
      #expect(reporter.queued == 100)
      let dropped = metricValue(registry, #"maestro_outcome_reporter_events_total{result="dropped_queue_full"}"#)
      #expect(dropped == 900)
      #expect(metricValue(registry, #"maestro_outcome_reporter_events_total{result="sent"}"#) == 0)
      group.cancelAll()
    }
  }

  @Test("batches reach a real metrics-service over gRPC as a service account; a down service's batches are dropped and counted")
  func deliversOverGRPC() async throws {
    try await MetricsHarness.with { h in
      var claims = TestTokenIssuer.claims(subject: "sa-workflow", tenant: "default", roles: ["platform-operator"])
      claims.principalType = "service_account"
      let token = try await h.issuer.sign(claims)
      let verifier = TokenVerifier(configuration: .test(), fetcher: InMemoryJWKSFetcher(jwks: h.issuer.publicJWKS), logger: Logger(label: "test"))
      let server = GRPCServer(
        transport: HTTP2ServerTransport.Posix(address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: .plaintext),
        services: [MetricsGRPCService(engine: h.engine)],
        interceptors: [
          RequestContextInterceptor(logger: Logger(label: "test"), metrics: RPCMetrics(registry: h.registry, service: "metrics-service")),
          AuthenticationInterceptor(verifier: verifier, policy: .maestro),
        ]
      )
      try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.serve() }
        let address = try await server.transport.listeningAddress
        let port = try #require(address.ipv4?.port)
        let registry = PrometheusCollectorRegistry()
        var configuration = OutcomeReporter.Configuration()
        configuration.batchSize = 100
        configuration.flushInterval = .milliseconds(20)
        // Generous: the shared build machine can be very slow; nothing here waits for it to pass.
        configuration.sendTimeout = .seconds(60)
        configuration.maxAttempts = 10
        let client = GRPCClient(transport: try .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext))
        let reporter = OutcomeReporter(
          sink: MetricsServiceSink(client: client, tokens: StaticToken(value: token)), configuration: configuration, registry: registry,
          logger: Logger(label: "test.reporter"))
        let reporterGroup = ServiceGroup(services: [reporter], logger: Logger(label: "test"))
        group.addTask { try await reporterGroup.run() }
        for index in 0..<1234 { reporter.report(Self.event(index)) }
        #expect(try await eventually(timeout: .seconds(120)) {
          let rows = try await h.engine.database.client.query("SELECT coalesce(sum(total), 0)::bigint FROM series_minute").collect()
          // The server commits a batch before its response reaches the reporter, which counts it
          // as sent only then: wait for both.
          return try rows.first?.decode(Int64.self) == 1234
            && metricValue(registry, #"maestro_outcome_reporter_events_total{result="sent"}"#) == 1234
        })
        await reporterGroup.triggerGracefulShutdown()
        server.beginGracefulShutdown()
        try await group.waitForAll()
      }

      // Nobody listens on the old port any more: the batch is retried, then dropped and counted.
      let registry = PrometheusCollectorRegistry()
      var configuration = OutcomeReporter.Configuration()
      configuration.flushInterval = .milliseconds(20)
      configuration.maxAttempts = 2
      configuration.retryBackoff = .milliseconds(10)
      configuration.sendTimeout = .seconds(2)
      let closed = GRPCClient(transport: try .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: 1), transportSecurity: .plaintext))
      let reporter = OutcomeReporter(sink: MetricsServiceSink(client: closed, tokens: StaticToken(value: token)), configuration: configuration, registry: registry, logger: Logger(label: "test.reporter"))
      try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await reporter.run() }
        for index in 0..<5 { reporter.report(Self.event(index)) }
        let dropped = try await eventually { metricValue(registry, #"maestro_outcome_reporter_events_total{result="dropped_send_failed"}"#) == 5 }
        #expect(dropped)
        group.cancelAll()
      }
    }
  }
}
