import Foundation
public import MaestroAuthModel
public import MaestroKit

/// The gateway's front-door settings: where the backends are, the rate and size limits, and
/// TLS for the public listeners. Every field has a `MAESTRO_*` variable and a default (see the
/// service README).
public struct FrontDoorConfiguration: Sendable {
  /// Addresses per backend [MAESTRO_WORKFLOW_SERVICE_ADDRESS (127.0.0.1:9101),
  /// MAESTRO_SCHEDULER_ADDRESS (:9102), MAESTRO_METRICS_SERVICE_ADDRESS (:9103),
  /// MAESTRO_MIGRATION_SERVICE_ADDRESS (:9104)].
  public var backends: [String: BackendAddresses]
  /// [MAESTRO_RATE_LIMIT_PRINCIPAL, MAESTRO_RATE_LIMIT_ROLES, MAESTRO_RATE_LIMIT_TENANT,
  /// MAESTRO_TENANT_MAX_IN_FLIGHT]
  public var rateLimits = RateLimitPolicy()
  /// [MAESTRO_MAX_BODY_BYTES, MAESTRO_MAX_HEADER_BYTES, MAESTRO_MAX_PATH_BYTES]
  public var limits = RequestLimits()
  /// The deadline of a REST call without `grpc-timeout` [MAESTRO_REST_TIMEOUT, default 60s].
  public var restTimeout: Duration = .seconds(60)
  /// TLS for both public listeners (REST and gRPC) [MAESTRO_TLS_CERT_FILE, MAESTRO_TLS_KEY_FILE];
  /// nil: plaintext (the local default).
  public var tls: TLSFiles?

  /// A PEM certificate chain and its private key.
  public struct TLSFiles: Sendable, Hashable {
    public var certificateChain: String
    public var privateKey: String
    public init(certificateChain: String, privateKey: String) {
      self.certificateChain = certificateChain
      self.privateKey = privateKey
    }
  }

  /// The backends and their local default ports.
  public static let defaultBackends: [(name: String, variable: String, port: Int)] = [
    ("workflow-service", "MAESTRO_WORKFLOW_SERVICE_ADDRESS", 9101),
    ("scheduler", "MAESTRO_SCHEDULER_ADDRESS", 9102),
    ("metrics-service", "MAESTRO_METRICS_SERVICE_ADDRESS", 9103),
    ("migration-service", "MAESTRO_MIGRATION_SERVICE_ADDRESS", 9104),
  ]

  public init(backends: [String: BackendAddresses]) {
    self.backends = backends
  }

  /// The local defaults: every backend on 127.0.0.1 at its default port.
  public static var localDefaults: FrontDoorConfiguration {
    var backends: [String: BackendAddresses] = [:]
    for backend in self.defaultBackends {
      backends[backend.name] = BackendAddresses(form: .addresses([.init(host: "127.0.0.1", port: backend.port)]))
    }
    return FrontDoorConfiguration(backends: backends)
  }

  public static func fromEnvironment(_ environment: [String: String]) throws(ConfigurationError) -> FrontDoorConfiguration {
    let env = ConfigurationResolver(environment: environment)
    var config = FrontDoorConfiguration.localDefaults
    for backend in self.defaultBackends {
      if let value = environment[backend.variable], !value.isEmpty {
        config.backends[backend.name] = try BackendAddresses.parse(value, setting: backend.variable)
      }
    }
    func rate(_ variable: String, _ fallback: TokenBucket.Rate) throws(ConfigurationError) -> TokenBucket.Rate {
      guard let text = environment[variable], !text.isEmpty else { return fallback }
      guard let rate = TokenBucket.Rate.parse(text) else {
        throw ConfigurationError(setting: variable, message: "expected RATE[:BURST] in requests per second, e.g. 100:200")
      }
      return rate
    }
    config.rateLimits.principal = try rate("MAESTRO_RATE_LIMIT_PRINCIPAL", config.rateLimits.principal)
    config.rateLimits.tenant = try rate("MAESTRO_RATE_LIMIT_TENANT", config.rateLimits.tenant)
    if let roles = environment["MAESTRO_RATE_LIMIT_ROLES"], !roles.isEmpty {
      switch RateLimitPolicy.parseRoles(roles) {
      case .success(let parsed): config.rateLimits.roles = parsed
      case .failure(let error):
        throw ConfigurationError(setting: "MAESTRO_RATE_LIMIT_ROLES", message: "bad entry '\(error.entry)': expected role=RATE[:BURST],…")
      }
    }
    config.rateLimits.tenantMaxInFlight = try env.resolve(nil as Int?, env: "MAESTRO_TENANT_MAX_IN_FLIGHT", default: config.rateLimits.tenantMaxInFlight)
    config.limits.maxBodyBytes = try env.resolve(nil as Int?, env: "MAESTRO_MAX_BODY_BYTES", default: config.limits.maxBodyBytes)
    config.limits.maxHeaderBytes = try env.resolve(nil as Int?, env: "MAESTRO_MAX_HEADER_BYTES", default: config.limits.maxHeaderBytes)
    config.limits.maxPathBytes = try env.resolve(nil as Int?, env: "MAESTRO_MAX_PATH_BYTES", default: config.limits.maxPathBytes)
    for (variable, value) in [("MAESTRO_MAX_BODY_BYTES", config.limits.maxBodyBytes), ("MAESTRO_MAX_HEADER_BYTES", config.limits.maxHeaderBytes), ("MAESTRO_MAX_PATH_BYTES", config.limits.maxPathBytes)] where value < 256 {
      throw ConfigurationError(setting: variable, message: "must be at least 256")
    }
    config.restTimeout = try env.resolveDuration(nil, env: "MAESTRO_REST_TIMEOUT", default: .seconds(60))
    let cert = environment["MAESTRO_TLS_CERT_FILE"].flatMap { $0.isEmpty ? nil : $0 }
    let key = environment["MAESTRO_TLS_KEY_FILE"].flatMap { $0.isEmpty ? nil : $0 }
    switch (cert, key) {
    case (nil, nil): config.tls = nil
    case (let cert?, let key?):
      for (variable, path) in [("MAESTRO_TLS_CERT_FILE", cert), ("MAESTRO_TLS_KEY_FILE", key)] where !FileManager.default.isReadableFile(atPath: path) {
        throw ConfigurationError(setting: variable, message: "cannot read \(path)")
      }
      config.tls = TLSFiles(certificateChain: cert, privateKey: key)
    default:
      throw ConfigurationError(setting: cert == nil ? "MAESTRO_TLS_CERT_FILE" : "MAESTRO_TLS_KEY_FILE", message: "TLS needs both MAESTRO_TLS_CERT_FILE and MAESTRO_TLS_KEY_FILE")
    }
    return config
  }
}
