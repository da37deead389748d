public import ArgumentParser
import Foundation
public import MaestroKit

/// metrics-service's own settings, beside the common ``ServiceOptions``.
public struct MetricsOptions: ParsableArguments, Sendable {
  @Option(help: "How often burn-rate rules are evaluated. [MAESTRO_METRICS_EVALUATION_INTERVAL, default 30s]")
  public var evaluationInterval: String?

  @Option(help: "How long per-minute aggregates are kept. [MAESTRO_METRICS_MINUTE_RETENTION, default 7d]")
  public var minuteRetention: String?

  @Option(help: "How long hourly aggregates are kept. [MAESTRO_METRICS_HOUR_RETENTION, default 90d]")
  public var hourRetention: String?

  @Option(help: "How long daily aggregates are kept. [MAESTRO_METRICS_DAY_RETENTION, default 400d]")
  public var dayRetention: String?

  @Option(help: "How often minutes are rolled up into hours, hours into days, and retention applied. [MAESTRO_METRICS_ROLLUP_INTERVAL, default 1m]")
  public var rollupInterval: String?

  @Option(help: "Comma-separated tenants that get the shipped default SLOs at startup. [MAESTRO_METRICS_DEFAULT_SLO_TENANTS, default default]")
  public var defaultSLOTenants: String?

  @Option(help: "Folder of OpenSLO YAML files (*.yaml) installed at startup for the default-SLO tenants. [MAESTRO_METRICS_SLO_DIR, default none]")
  public var sloDir: String?

  @Option(help: "Folder holding receiver secrets as files named by secret_name. [MAESTRO_METRICS_SECRETS_DIR, default none: MAESTRO_METRICS_SECRET_<NAME> variables]")
  public var secretsDir: String?

  @Option(help: "How often the notification outbox is polled. [MAESTRO_METRICS_DISPATCH_INTERVAL, default 1s]")
  public var dispatchInterval: String?

  @Option(help: "First retry delay of a failed notification (doubles per attempt). [MAESTRO_METRICS_RETRY_BACKOFF, default 2s]")
  public var retryBackoff: String?

  @Option(help: "Longest retry delay of a failed notification. [MAESTRO_METRICS_RETRY_BACKOFF_MAX, default 5m]")
  public var retryBackoffMax: String?

  @Option(help: "Link put in notifications. [MAESTRO_METRICS_EXTERNAL_URL, default http://127.0.0.1:8080]")
  public var externalURL: String?

  public init() {}

  public func resolve(environment: [String: String]) throws(ConfigurationError) -> MetricsServer.Settings {
    let env = ConfigurationResolver(environment: environment)
    var settings = MetricsServer.Settings()
    settings.evaluationInterval = try env.resolveDuration(self.evaluationInterval, env: "MAESTRO_METRICS_EVALUATION_INTERVAL", default: settings.evaluationInterval)
    settings.minuteRetention = try env.resolveDuration(self.minuteRetention, env: "MAESTRO_METRICS_MINUTE_RETENTION", default: settings.minuteRetention)
    settings.hourRetention = try env.resolveDuration(self.hourRetention, env: "MAESTRO_METRICS_HOUR_RETENTION", default: settings.hourRetention)
    settings.dayRetention = try env.resolveDuration(self.dayRetention, env: "MAESTRO_METRICS_DAY_RETENTION", default: settings.dayRetention)
    settings.rollupInterval = try env.resolveDuration(self.rollupInterval, env: "MAESTRO_METRICS_ROLLUP_INTERVAL", default: settings.rollupInterval)
    settings.dispatchInterval = try env.resolveDuration(self.dispatchInterval, env: "MAESTRO_METRICS_DISPATCH_INTERVAL", default: settings.dispatchInterval)
    settings.retryBackoff = try env.resolveDuration(self.retryBackoff, env: "MAESTRO_METRICS_RETRY_BACKOFF", default: settings.retryBackoff)
    settings.retryBackoffMax = try env.resolveDuration(self.retryBackoffMax, env: "MAESTRO_METRICS_RETRY_BACKOFF_MAX", default: settings.retryBackoffMax)
    let tenants = try env.resolve(self.defaultSLOTenants, env: "MAESTRO_METRICS_DEFAULT_SLO_TENANTS", default: "default")
    settings.defaultSLOTenants = tenants.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    settings.sloDirectory = try env.resolve(self.sloDir, env: "MAESTRO_METRICS_SLO_DIR") as String?
    settings.secretsDirectory = try env.resolve(self.secretsDir, env: "MAESTRO_METRICS_SECRETS_DIR") as String?
    settings.externalURL = try env.resolve(self.externalURL, env: "MAESTRO_METRICS_EXTERNAL_URL", default: settings.externalURL)
    settings.environment = environment
    guard settings.evaluationInterval >= .milliseconds(100) else { throw ConfigurationError(setting: "MAESTRO_METRICS_EVALUATION_INTERVAL", message: "must be at least 100ms") }
    guard settings.minuteRetention >= .seconds(86_400) else { throw ConfigurationError(setting: "MAESTRO_METRICS_MINUTE_RETENTION", message: "must be at least 1d") }
    guard settings.hourRetention >= settings.minuteRetention, settings.hourRetention >= SLODefinition.maximumWindow else {
      throw ConfigurationError(setting: "MAESTRO_METRICS_HOUR_RETENTION", message: "must be at least the minute retention and the longest SLO window (90d)")
    }
    guard settings.dayRetention >= settings.hourRetention else {
      throw ConfigurationError(setting: "MAESTRO_METRICS_DAY_RETENTION", message: "must be at least the hour retention")
    }
    guard settings.retryBackoff > .zero, settings.retryBackoffMax >= settings.retryBackoff else {
      throw ConfigurationError(setting: "MAESTRO_METRICS_RETRY_BACKOFF", message: "must be positive and at most MAESTRO_METRICS_RETRY_BACKOFF_MAX")
    }
    return settings
  }
}
