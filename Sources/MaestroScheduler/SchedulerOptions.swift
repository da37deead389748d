public import ArgumentParser
import Foundation
public import MaestroKit

/// scheduler's own settings, beside the common ``ServiceOptions``.
public struct SchedulerOptions: ParsableArguments, Sendable {
  @Option(help: "workflow-service gRPC address (host:port) runs are started on. [MAESTRO_WORKFLOW_TARGET, default 127.0.0.1:9101]")
  public var workflowTarget: String?

  @Option(help: "auth-gateway gRPC address for the service-account token. [MAESTRO_AUTH_TARGET, default 127.0.0.1:9090]")
  public var authTarget: String?

  @Option(help: "Service-account client id. [MAESTRO_CLIENT_ID, default scheduler]")
  public var clientID: String?

  @Option(help: "File holding the service account's client secret. [MAESTRO_CLIENT_SECRET_FILE, default .local/secrets/scheduler.secret]")
  public var clientSecretFile: String?

  @Option(help: "Tenant of the service account (runs of its schedules start with its token). [MAESTRO_SCHEDULER_SERVICE_TENANT, default default]")
  public var serviceTenant: String?

  @Option(help: "A file holding a bearer token to use instead of the client-credentials grant (re-read on every call). [MAESTRO_SCHEDULER_TOKEN_FILE, default none]")
  public var tokenFile: String?

  @Option(help: "Folder with <tenant>.client_id and <tenant>.secret of a service account per other tenant. [MAESTRO_SCHEDULER_CREDENTIALS_DIR, default none]")
  public var credentialsDir: String?

  @Option(help: "Install the reference schedules (hello-world every 5 minutes, hello-case every 6 hours). [MAESTRO_SCHEDULER_REFERENCE_SCHEDULES, default true]")
  public var referenceSchedules: Bool?

  @Option(help: "Tenant the reference schedules are installed in. [MAESTRO_SCHEDULER_REFERENCE_TENANT, default default]")
  public var referenceTenant: String?

  @Option(help: "Due schedules claimed per transaction. [MAESTRO_SCHEDULER_BATCH_SIZE, default 100]")
  public var batchSize: Int?

  @Option(help: "Concurrent StartRun calls per replica. [MAESTRO_SCHEDULER_START_CONCURRENCY, default 32]")
  public var startConcurrency: Int?

  @Option(help: "How often a running fire's run status is read. [MAESTRO_SCHEDULER_RUN_POLL_INTERVAL, default 2s]")
  public var runPollInterval: String?

  @Option(help: "After this, an unconfirmed start is re-driven by any replica. [MAESTRO_SCHEDULER_REDRIVE_AFTER, default 15s]")
  public var redriveAfter: String?

  @Option(help: "Longest idle sleep (changes arrive by NOTIFY; this is a safety net). [MAESTRO_SCHEDULER_IDLE_WAKEUP, default 60s]")
  public var idleWakeup: String?

  public init() {}

  public func resolve(environment: [String: String]) throws(ConfigurationError) -> SchedulerServer.Settings {
    let env = ConfigurationResolver(environment: environment)
    var settings = SchedulerServer.Settings()
    let workflow = try env.resolve(self.workflowTarget, env: "MAESTRO_WORKFLOW_TARGET", default: "127.0.0.1:9101")
    guard let workflowTarget = HostPort(workflow) else { throw ConfigurationError(setting: "MAESTRO_WORKFLOW_TARGET", message: "expected host:port, got '\(workflow)'") }
    settings.workflowTarget = workflowTarget
    let auth = try env.resolve(self.authTarget, env: "MAESTRO_AUTH_TARGET", default: "127.0.0.1:9090")
    guard let authTarget = HostPort(auth) else { throw ConfigurationError(setting: "MAESTRO_AUTH_TARGET", message: "expected host:port, got '\(auth)'") }
    settings.authTarget = authTarget
    settings.clientID = try env.resolve(self.clientID, env: "MAESTRO_CLIENT_ID", default: "scheduler")
    settings.clientSecretFile = try env.resolve(self.clientSecretFile, env: "MAESTRO_CLIENT_SECRET_FILE", default: ".local/secrets/scheduler.secret")
    settings.serviceTenant = try env.resolve(self.serviceTenant, env: "MAESTRO_SCHEDULER_SERVICE_TENANT", default: "default")
    settings.tokenFile = try env.resolve(self.tokenFile, env: "MAESTRO_SCHEDULER_TOKEN_FILE") as String?
    settings.credentialsDirectory = try env.resolve(self.credentialsDir, env: "MAESTRO_SCHEDULER_CREDENTIALS_DIR") as String?
    settings.referenceSchedules = try env.resolve(self.referenceSchedules, env: "MAESTRO_SCHEDULER_REFERENCE_SCHEDULES", default: true)
    settings.referenceTenant = try env.resolve(self.referenceTenant, env: "MAESTRO_SCHEDULER_REFERENCE_TENANT", default: "default")
    var engine = settings.engine
    engine.batchSize = try env.resolve(self.batchSize, env: "MAESTRO_SCHEDULER_BATCH_SIZE", default: engine.batchSize)
    guard (1...10_000).contains(engine.batchSize) else { throw ConfigurationError(setting: "MAESTRO_SCHEDULER_BATCH_SIZE", message: "must be 1 to 10000") }
    engine.startConcurrency = try env.resolve(self.startConcurrency, env: "MAESTRO_SCHEDULER_START_CONCURRENCY", default: engine.startConcurrency)
    guard (1...1024).contains(engine.startConcurrency) else { throw ConfigurationError(setting: "MAESTRO_SCHEDULER_START_CONCURRENCY", message: "must be 1 to 1024") }
    engine.runPollInterval = try env.resolveDuration(self.runPollInterval, env: "MAESTRO_SCHEDULER_RUN_POLL_INTERVAL", default: engine.runPollInterval)
    guard engine.runPollInterval >= .milliseconds(50) else { throw ConfigurationError(setting: "MAESTRO_SCHEDULER_RUN_POLL_INTERVAL", message: "must be at least 50ms") }
    engine.redriveAfter = try env.resolveDuration(self.redriveAfter, env: "MAESTRO_SCHEDULER_REDRIVE_AFTER", default: engine.redriveAfter)
    guard engine.redriveAfter >= .seconds(1) else { throw ConfigurationError(setting: "MAESTRO_SCHEDULER_REDRIVE_AFTER", message: "must be at least 1s") }
    engine.idleWakeup = try env.resolveDuration(self.idleWakeup, env: "MAESTRO_SCHEDULER_IDLE_WAKEUP", default: engine.idleWakeup)
    guard engine.idleWakeup >= .milliseconds(100) else { throw ConfigurationError(setting: "MAESTRO_SCHEDULER_IDLE_WAKEUP", message: "must be at least 100ms") }
    settings.engine = engine
    return settings
  }
}
