import AsyncHTTPClient
import Foundation
import Logging
import MaestroCore
public import MaestroKit
import MaestroProtos
import ServiceLifecycle

/// metrics-service's process: outcome ingest, SLOs, error budgets and alerting in the
/// `metrics` schema.
public enum MetricsServer {
  /// Local defaults: gRPC 9103, admin 9204, role `maestro_metrics`.
  public static let defaults = ServiceDefaults(serviceName: "metrics-service", schema: "metrics", grpcPort: 9103, adminPort: 9204)

  /// The `metrics` schema version this build needs (its highest migration).
  public static let requiredSchemaVersion = 4

  /// The service's own settings (see ``MetricsOptions`` for their variables).
  public struct Settings: Sendable {
    public var evaluationInterval: Duration = .seconds(30)
    public var minuteRetention: Duration = .seconds(7 * 86_400)
    public var hourRetention: Duration = .seconds(90 * 86_400)
    public var dayRetention: Duration = .seconds(400 * 86_400)
    public var rollupInterval: Duration = .seconds(60)
    public var dispatchInterval: Duration = .seconds(1)
    public var retryBackoff: Duration = .seconds(2)
    public var retryBackoffMax: Duration = .seconds(300)
    public var defaultSLOTenants: [String] = ["default"]
    public var sloDirectory: String?
    public var secretsDirectory: String?
    public var externalURL = "http://127.0.0.1:8080"
    public var environment: [String: String] = [:]

    public init() {}
  }

  /// What metrics-service runs inside its host.
  public static func components(host: MaestroServiceHost, settings: Settings = Settings()) -> ServiceComponents {
    let engine = MetricsEngine(
      database: host.database, minuteRetention: settings.minuteRetention, hourRetention: settings.hourRetention, dayRetention: settings.dayRetention,
      outcomeMetrics: OutcomeMetrics(registry: host.registry), logger: host.logger)
    let evaluator = engine.makeEvaluator(interval: settings.evaluationInterval, metrics: SLOStatusMetrics(registry: host.registry), externalURL: settings.externalURL)
    let dispatcher = NotificationDispatcher(
      database: host.database, httpClient: HTTPClient.shared,
      secrets: SecretResolver(directory: settings.secretsDirectory, environment: settings.environment),
      interval: settings.dispatchInterval, backoffBase: settings.retryBackoff, backoffCap: settings.retryBackoffMax,
      requestTimeout: .seconds(10), metrics: DispatcherMetrics(registry: host.registry), logger: host.logger)
    let rollup = RollupWorker(store: engine.aggregates, slos: engine.slos, interval: settings.rollupInterval, logger: host.logger)
    return ServiceComponents(
      grpcServices: [MetricsGRPCService(engine: engine)],
      servedServiceNames: [Maestro_Metrics_V1_MetricsService.descriptor.fullyQualifiedService],
      policy: .maestro,
      requiredSchemaVersion: self.requiredSchemaVersion,
      backgroundServices: [evaluator, dispatcher, rollup],
      preflight: {
        try await self.installSLOs(engine: engine, settings: settings, logger: host.logger)
      }
    )
  }

  /// Installs the shipped defaults and the SLO folder's YAML for the configured tenants, leaving
  /// SLOs that already exist untouched.
  static func installSLOs(engine: MetricsEngine, settings: Settings, logger: Logger) async throws {
    var fromFiles: [SLODefinition] = []
    if let directory = settings.sloDirectory {
      let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
      for file in files {
        let text = try String(contentsOfFile: "\(directory)/\(file)", encoding: .utf8)
        fromFiles += try SLODefinition.parseOpenSLO(text, source: file)
      }
    }
    for tenant in settings.defaultSLOTenants {
      let yaml = try await engine.slos.installAbsent(fromFiles, tenant: tenant, source: "yaml")
      let defaults = try await engine.slos.installAbsent(SLODefaults.all, tenant: tenant, source: "default")
      logger.info("SLOs installed", metadata: ["tenant": "\(tenant)", "defaults": "\(defaults)", "yaml": "\(yaml)"])
    }
  }
}

/// Brings the SLO filter aggregates up to date, rolls complete hours of minutes up into hours,
/// complete days of hours into days, and applies retention, periodically.
struct RollupWorker: Service {
  let store: AggregateStore
  let slos: SLOStore
  let interval: Duration
  let logger: Logger

  func run() async throws {
    while !Task.isCancelled && !Task.isShuttingDownGracefully {
      do {
        let now = Date()
        // Before the hour rollup, so the minutes it sums are in the aggregates already.
        let slos = try await self.slos.allEnabled(limit: 100_000, enabledOnly: false)
        let filters = try await self.store.materialiseFilters(now: now, needs: AggregateStore.filterNeeds(slos.map { ($0.tenant, $0.definition) }, now: now))
        if filters.created > 0 || filters.dropped > 0 || filters.backfilledDays > 0 {
          self.logger.info(
            "filter aggregates", metadata: ["created": "\(filters.created)", "dropped": "\(filters.dropped)", "backfilled_days": "\(filters.backfilledDays)"])
        }
        let rolled = try await self.store.rollup(now: now)
        let deleted = try await self.store.applyRetention(now: now)
        if rolled.hours > 0 || rolled.days > 0 || deleted > 0 {
          self.logger.info("rollup", metadata: ["hours": "\(rolled.hours)", "days": "\(rolled.days)", "rows_deleted": "\(deleted)"])
        }
      } catch {
        self.logger.error("rollup failed", metadata: ["error": "\(error)"])
      }
      try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
    }
  }
}
