public import ArgumentParser
import Foundation
public import MaestroKit

/// workflow-service's own settings, beside the common ``ServiceOptions``.
public struct EngineOptions: ParsableArguments, Sendable {
  @Option(help: "Concurrent executor loops. [MAESTRO_ENGINE_EXECUTORS, default 4]")
  public var engineExecutors: Int?

  @Option(help: "Steps claimed per statement. [MAESTRO_ENGINE_BATCH_SIZE, default 32]")
  public var engineBatchSize: Int?

  @Option(help: "StartRun group commit: batches written concurrently per replica. [MAESTRO_ENGINE_START_WRITERS, default 2]")
  public var engineStartWriters: Int?

  @Option(help: "StartRun group commit: most starts of one tenant in one batch. [MAESTRO_ENGINE_START_BATCH_SIZE, default 64]")
  public var engineStartBatchSize: Int?

  @Option(help: "Lease on a claimed step; an expired lease is re-queued to another replica. [MAESTRO_ENGINE_LEASE, default 10s]")
  public var engineLease: String?

  @Option(help: "Folder with reference/*.yaml workflows. [MAESTRO_WORKFLOWS_DIR, default services/workflow-service/workflows]")
  public var workflowsDir: String?

  @Option(help: "Tenant the reference workflows are registered for; empty disables them. [MAESTRO_REFERENCE_TENANT, default default]")
  public var referenceTenant: String?

  @Option(help: "Hosts http steps may call: host, host:port, *.domain, * (any). [MAESTRO_HTTP_ALLOWLIST, default localhost,127.0.0.1,::1]")
  public var httpAllowlist: String?

  @Option(help: "Folder of secrets http steps may send: <dir>/<tenant>/<name>; empty = none. [MAESTRO_WORKFLOW_SECRETS_DIR, default empty]")
  public var workflowSecretsDir: String?

  public init() {}

  public func resolve(environment: [String: String], identity: String) throws(ConfigurationError) -> WorkflowServer.Settings {
    let env = ConfigurationResolver(environment: environment)
    var engine = EngineConfiguration(identity: identity)
    engine.executors = try env.resolve(self.engineExecutors, env: "MAESTRO_ENGINE_EXECUTORS", default: 4)
    engine.batchSize = try env.resolve(self.engineBatchSize, env: "MAESTRO_ENGINE_BATCH_SIZE", default: 32)
    engine.startWriters = try env.resolve(self.engineStartWriters, env: "MAESTRO_ENGINE_START_WRITERS", default: 2)
    engine.startBatchSize = try env.resolve(self.engineStartBatchSize, env: "MAESTRO_ENGINE_START_BATCH_SIZE", default: 64)
    engine.lease = try env.resolveDuration(self.engineLease, env: "MAESTRO_ENGINE_LEASE", default: .seconds(10))
    guard (1...64).contains(engine.executors) else { throw ConfigurationError(setting: "MAESTRO_ENGINE_EXECUTORS", message: "must be 1 to 64") }
    guard (1...1000).contains(engine.batchSize) else { throw ConfigurationError(setting: "MAESTRO_ENGINE_BATCH_SIZE", message: "must be 1 to 1000") }
    guard (1...64).contains(engine.startWriters) else { throw ConfigurationError(setting: "MAESTRO_ENGINE_START_WRITERS", message: "must be 1 to 64") }
    guard (1...1000).contains(engine.startBatchSize) else { throw ConfigurationError(setting: "MAESTRO_ENGINE_START_BATCH_SIZE", message: "must be 1 to 1000") }
    guard engine.lease >= .seconds(1) else { throw ConfigurationError(setting: "MAESTRO_ENGINE_LEASE", message: "must be at least 1s") }
    var http = HTTPStepSettings()
    let allowlist = try env.resolve(self.httpAllowlist, env: "MAESTRO_HTTP_ALLOWLIST", default: "localhost,127.0.0.1,::1")
    http.allowlist = HostAllowlist(entries: allowlist.split(separator: ",").map(String.init))
    let secrets = try env.resolve(self.workflowSecretsDir, env: "MAESTRO_WORKFLOW_SECRETS_DIR", default: "")
    http.secretsDirectory = secrets.isEmpty ? nil : secrets
    var settings = WorkflowServer.Settings(
      engine: engine,
      workflowsDirectory: try env.resolve(self.workflowsDir, env: "MAESTRO_WORKFLOWS_DIR", default: "services/workflow-service/workflows"),
      referenceTenant: try env.resolve(self.referenceTenant, env: "MAESTRO_REFERENCE_TENANT", default: "default")
    )
    settings.http = http
    return settings
  }
}
