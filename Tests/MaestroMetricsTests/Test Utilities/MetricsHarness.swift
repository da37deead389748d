import Foundation
import GRPCCore
import GRPCInProcessTransport
import Logging
import MaestroCore
import MaestroKit
@testable import MaestroMetrics
import MaestroProtos
import MaestroTestSupport
import PostgresNIO
import Prometheus
import ServiceLifecycle
import Synchronization
import SwiftProtobuf

/// A clock tests move by hand.
final class TestClock: Sendable {
  private let current: Mutex<Date>
  init(_ start: Date) { self.current = Mutex(start) }
  var now: Date { self.current.withLock { $0 } }
  func advance(by seconds: TimeInterval) { self.current.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

/// A migrated test database, metrics-service's engine on it, and an in-process gRPC server in
/// front (real interceptors, a test token issuer), with a hand-driven clock.
struct MetricsHarness {
  let db: TestDatabase
  let engine: MetricsEngine
  let client: Maestro_Metrics_V1_MetricsService.Client<InProcessTransport.Client>
  let issuer: TestTokenIssuer
  let registry: PrometheusCollectorRegistry
  let clock: TestClock
  let evaluator: AlertEvaluator

  /// A minute boundary a little in the past, so minute buckets line up predictably.
  static func start() -> Date {
    Date(timeIntervalSince1970: ((Date().timeIntervalSince1970 / 60).rounded(.down) * 60) - 30 * 60 + 30)
  }

  static func with(_ body: (MetricsHarness) async throws -> Void) async throws {
    try await TestDatabase.with { db in
      try await db.migrate()
      var logger = Logger(label: "test.metrics")
      logger.logLevel = .warning
      let registry = PrometheusCollectorRegistry()
      var configuration = try db.serviceConfiguration(schema: "metrics")
      configuration.maxConnections = 6
      let database = Database(configuration: configuration, logger: logger)
      let engine = MetricsEngine(
        database: database, minuteRetention: .seconds(7 * 86_400), hourRetention: .seconds(90 * 86_400),
        outcomeMetrics: OutcomeMetrics(registry: registry), logger: logger)
      let clock = TestClock(Self.start())
      let issuer = try await TestTokenIssuer.make()
      let verifier = TokenVerifier(configuration: .test(), fetcher: InMemoryJWKSFetcher(jwks: issuer.publicJWKS), logger: logger)
      let transport = InProcessTransport()
      let evaluator = engine.makeEvaluator(interval: .seconds(30), metrics: SLOStatusMetrics(registry: registry), externalURL: "http://maestro.test")
      let group = ServiceGroup(services: [database.client], logger: logger)
      try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        do {
          try await withGRPCServer(
            transport: transport.server,
            services: [MetricsGRPCService(engine: engine, now: { clock.now })],
            interceptors: [
              RequestContextInterceptor(logger: logger, metrics: RPCMetrics(registry: registry, service: "metrics-service")),
              AuthenticationInterceptor(verifier: verifier, policy: .maestro),
            ]
          ) { _ in
            try await withGRPCClient(transport: transport.client) { grpcClient in
              try await body(MetricsHarness(
                db: db, engine: engine, client: Maestro_Metrics_V1_MetricsService.Client(wrapping: grpcClient), issuer: issuer,
                registry: registry, clock: clock, evaluator: evaluator))
            }
          }
        } catch {
          await group.triggerGracefulShutdown()
          throw error
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
      }
    }
  }

  /// Bearer metadata for a service account of `tenant` (platform-operator, as bootstrapped).
  func serviceAccount(tenant: String = "default", roles: [String] = ["platform-operator"]) async throws -> Metadata {
    var claims = TestTokenIssuer.claims(subject: "sa-workflow", tenant: tenant, roles: roles)
    claims.principalType = "service_account"
    return ["authorization": "Bearer \(try await self.issuer.sign(claims))"]
  }

  /// Bearer metadata for a user.
  func user(tenant: String = "default", roles: [String] = ["tenant-admin"]) async throws -> Metadata {
    ["authorization": "Bearer \(try await self.issuer.sign(TestTokenIssuer.claims(subject: "alice", tenant: tenant, roles: roles)))"]
  }

  static func run(
    _ workflow: String, tenant: String = "default", status: Maestro_Metrics_V1_OutcomeStatus, seconds: Double = 2, slaMet: Bool? = nil, at date: Date
  ) -> Maestro_Metrics_V1_OutcomeEvent {
    .with {
      $0.kind = .run
      $0.tenant = tenant
      $0.workflow = workflow
      $0.status = status
      $0.duration = .init(seconds: Int64(seconds), nanos: Int32((seconds - seconds.rounded(.down)) * 1e9))
      if let slaMet { $0.slaMet = slaMet }
      $0.occurredAt = .init(date: date)
    }
  }

  /// Records `events` through RecordEvents in batches of 5,000.
  func record(_ events: [Maestro_Metrics_V1_OutcomeEvent], tenant: String = "default") async throws {
    let metadata = try await self.serviceAccount(tenant: tenant)
    var index = 0
    while index < events.count {
      let slice = Array(events[index..<min(events.count, index + 5000)])
      let response = try await self.client.recordEvents(.with { $0.batchID = UUID().uuidString; $0.events = slice }, metadata: metadata)
      guard response.rejected == 0 else { throw TestSetupError("rejected: \(response.rejections.map(\.reason))") }
      index += 5000
    }
  }

  /// An availability SLO of `workflow` runs, alerting with the default windows.
  func createAvailabilitySLO(_ name: String, workflow: String, objective: Double = 99.9) async throws {
    _ = try await self.client.createSLO(.with {
      $0.slo = .with {
        $0.name = name
        $0.sli = .with {
          $0.filter = .with { $0.kind = .run; $0.workflow = workflow }
          $0.goodCondition = .succeeded
        }
        $0.objectivePercent = objective
        $0.window = .init(seconds: 30 * 86_400)
      }
    }, metadata: try await self.user())
  }

  func alerts(_ slo: String, states: [Maestro_Metrics_V1_AlertState] = [.pending, .firing]) async throws -> [Maestro_Metrics_V1_Alert] {
    try await self.client.listAlerts(.with { $0.sloName = slo; $0.states = states; $0.pageSize = 100 }, metadata: try await self.user()).alerts
  }

  /// Outbox rows: (receiver name, kind, delivered, attempts, payload).
  func outbox() async throws -> [(receiver: String, kind: String, delivered: Bool, attempts: Int, payload: String)] {
    let rows = try await self.engine.database.client.query(
      """
      SELECT r.name, o.kind, o.delivered_at IS NOT NULL, o.attempts, o.payload::text FROM notification_outbox o
      JOIN receivers r ON r.id = o.receiver_id ORDER BY o.id
      """
    ).collect()
    return try rows.map { row in
      let (receiver, kind, delivered, attempts, payload) = try row.decode((String, String, Bool, Int, String).self)
      return (receiver, kind, delivered, attempts, payload)
    }
  }
}
