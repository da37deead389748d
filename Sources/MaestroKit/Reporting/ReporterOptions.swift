public import ArgumentParser
public import Logging
public import Prometheus

/// The outcome-reporter settings a reporting service accepts (workflow-service, the gateway).
/// Reporting is off unless a metrics-service target is set.
public struct ReporterOptions: ParsableArguments, Sendable {
  @Option(help: "metrics-service gRPC address (host:port) outcomes are reported to; empty = no reporting. [MAESTRO_METRICS_TARGET]")
  public var metricsTarget: String?

  @Option(help: "auth-gateway gRPC address for the service-account token. [MAESTRO_AUTH_TARGET, default 127.0.0.1:9090]")
  public var authTarget: String?

  @Option(help: "Service-account client id. [MAESTRO_CLIENT_ID, default the service's name]")
  public var clientID: String?

  @Option(help: "File holding the service account's client secret. [MAESTRO_CLIENT_SECRET_FILE, default .local/secrets/<service>.secret]")
  public var clientSecretFile: String?

  @Option(help: "Outcome events queued at most before new ones are dropped (and counted). [MAESTRO_REPORTER_QUEUE, default 10000]")
  public var reporterQueue: Int?

  @Option(help: "Longest wait before queued outcomes are sent. [MAESTRO_REPORTER_FLUSH_INTERVAL, default 1s]")
  public var reporterFlushInterval: String?

  public init() {}

  /// The resolved settings; nil when reporting is off.
  public struct Settings: Sendable {
    public var metricsTarget: HostPort
    public var authTarget: HostPort
    public var clientID: String
    public var clientSecretFile: String
    public var reporter: OutcomeReporter.Configuration

    /// A reporter sending to metrics-service (run it as a background service).
    public func makeReporter(registry: PrometheusCollectorRegistry, logger: Logger) throws -> OutcomeReporter {
      let sink = try MetricsServiceSink.make(metricsTarget: self.metricsTarget, authTarget: self.authTarget, clientID: self.clientID, secretFile: self.clientSecretFile)
      return OutcomeReporter(sink: sink, configuration: self.reporter, registry: registry, logger: logger)
    }
  }

  public func resolve(serviceName: String, environment: [String: String]) throws(ConfigurationError) -> Settings? {
    let env = ConfigurationResolver(environment: environment)
    let target = try env.resolve(self.metricsTarget, env: "MAESTRO_METRICS_TARGET", default: "")
    guard !target.isEmpty else { return nil }
    guard let metrics = HostPort(target) else { throw ConfigurationError(setting: "MAESTRO_METRICS_TARGET", message: "expected host:port, got '\(target)'") }
    let authText = try env.resolve(self.authTarget, env: "MAESTRO_AUTH_TARGET", default: "127.0.0.1:9090")
    guard let auth = HostPort(authText) else { throw ConfigurationError(setting: "MAESTRO_AUTH_TARGET", message: "expected host:port, got '\(authText)'") }
    var reporter = OutcomeReporter.Configuration()
    reporter.queueCapacity = try env.resolve(self.reporterQueue, env: "MAESTRO_REPORTER_QUEUE", default: reporter.queueCapacity)
    guard (1...10_000_000).contains(reporter.queueCapacity) else { throw ConfigurationError(setting: "MAESTRO_REPORTER_QUEUE", message: "must be 1 to 10000000") }
    reporter.flushInterval = try env.resolveDuration(self.reporterFlushInterval, env: "MAESTRO_REPORTER_FLUSH_INTERVAL", default: reporter.flushInterval)
    guard reporter.flushInterval >= .milliseconds(10) else { throw ConfigurationError(setting: "MAESTRO_REPORTER_FLUSH_INTERVAL", message: "must be at least 10ms") }
    return Settings(
      metricsTarget: metrics, authTarget: auth,
      clientID: try env.resolve(self.clientID, env: "MAESTRO_CLIENT_ID", default: serviceName),
      clientSecretFile: try env.resolve(self.clientSecretFile, env: "MAESTRO_CLIENT_SECRET_FILE", default: ".local/secrets/\(serviceName).secret"),
      reporter: reporter
    )
  }
}
