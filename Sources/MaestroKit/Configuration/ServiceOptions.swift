public import ArgumentParser
import MaestroCore

/// The options every Maestro service accepts. Each has a `MAESTRO_*` environment variable and a
/// per-service default (see ``ServiceDefaults``); flags win over the environment.
public struct ServiceOptions: ParsableArguments, Sendable {
  @Option(help: "Address the gRPC and admin listeners bind to. [MAESTRO_HOST, default 127.0.0.1]")
  public var host: String?

  @Option(help: "gRPC port (0 picks a free port). [MAESTRO_GRPC_PORT]")
  public var grpcPort: Int?

  @Option(help: "Admin HTTP port for /healthz, /readyz, /metrics (0 picks a free port). [MAESTRO_ADMIN_PORT]")
  public var adminPort: Int?

  @Option(help: "PostgreSQL URL for this service's own role, postgres://user:password@host:port/db?sslmode=disable. [MAESTRO_DATABASE_URL]")
  public var databaseURL: String?

  @Option(help: "Maximum connections in the Postgres pool. [MAESTRO_DB_MAX_CONNECTIONS, default 20]")
  public var dbMaxConnections: Int?

  @Option(help: "How long startup waits for Postgres before failing. [MAESTRO_DB_CONNECT_TIMEOUT, default 10s]")
  public var dbConnectTimeout: String?

  @Option(help: "JWKS URL that access tokens are verified against. [MAESTRO_JWKS_URL, default the local gateway's]")
  public var jwksURL: String?

  @Option(help: "JWKS file, instead of a URL. [MAESTRO_JWKS_FILE]")
  public var jwksFile: String?

  @Option(help: "Expected token issuer (iss). [MAESTRO_JWT_ISSUER, default maestro]")
  public var jwtIssuer: String?

  @Option(help: "Expected token audience (aud). [MAESTRO_JWT_AUDIENCE, default maestro]")
  public var jwtAudience: String?

  @Option(help: "Log level: trace, debug, info, notice, warning, error, critical. [MAESTRO_LOG_LEVEL, default info]")
  public var logLevel: String?

  @Option(help: "Log format: json or text. [MAESTRO_LOG_FORMAT, default json]")
  public var logFormat: String?

  @Option(help: "On SIGTERM, how long health reports NOT_SERVING before the listeners close. [MAESTRO_DRAIN_DELAY, default 0s]")
  public var drainDelay: String?

  public init() {}

  /// The resolved configuration: flags, then `environment`, then `defaults`.
  public func resolve(
    defaults: ServiceDefaults,
    environment: [String: String]
  ) throws(ConfigurationError) -> ServiceConfiguration {
    let env = ConfigurationResolver(environment: environment)
    let databaseURL = try env.resolve(self.databaseURL, env: "MAESTRO_DATABASE_URL", default: defaults.databaseURL)
    var database: DatabaseConfiguration
    do {
      database = try DatabaseConfiguration(url: databaseURL, schema: defaults.schema)
    } catch {
      throw ConfigurationError(setting: "MAESTRO_DATABASE_URL", message: error.description)
    }
    database.maxConnections = try env.resolve(self.dbMaxConnections, env: "MAESTRO_DB_MAX_CONNECTIONS", default: 20)
    guard database.maxConnections >= 1 else {
      throw ConfigurationError(setting: "MAESTRO_DB_MAX_CONNECTIONS", message: "must be at least 1")
    }
    database.connectTimeout = try env.resolveDuration(self.dbConnectTimeout, env: "MAESTRO_DB_CONNECT_TIMEOUT", default: .seconds(10))

    let jwksFile = try env.resolve(self.jwksFile, env: "MAESTRO_JWKS_FILE") as String?
    let jwksURL = try env.resolve(self.jwksURL, env: "MAESTRO_JWKS_URL", default: defaults.jwksURL)
    let jwks: JWKSSource = jwksFile.map { .file($0) } ?? .url(jwksURL)

    let levelText = try env.resolve(self.logLevel, env: "MAESTRO_LOG_LEVEL", default: "info")
    guard let level = LogLevelName(rawValue: levelText.lowercased()) else {
      throw ConfigurationError(setting: "MAESTRO_LOG_LEVEL", message: "unknown level '\(levelText)'")
    }
    let formatText = try env.resolve(self.logFormat, env: "MAESTRO_LOG_FORMAT", default: "json")
    guard let format = LogFormat(rawValue: formatText.lowercased()) else {
      throw ConfigurationError(setting: "MAESTRO_LOG_FORMAT", message: "expected json or text, got '\(formatText)'")
    }

    let config = ServiceConfiguration(
      serviceName: defaults.serviceName,
      host: try env.resolve(self.host, env: "MAESTRO_HOST", default: "127.0.0.1"),
      grpcPort: try Self.port(env.resolve(self.grpcPort, env: "MAESTRO_GRPC_PORT", default: defaults.grpcPort), "MAESTRO_GRPC_PORT"),
      adminPort: try Self.port(env.resolve(self.adminPort, env: "MAESTRO_ADMIN_PORT", default: defaults.adminPort), "MAESTRO_ADMIN_PORT"),
      database: database,
      token: TokenVerificationConfiguration(
        jwks: jwks,
        issuer: try env.resolve(self.jwtIssuer, env: "MAESTRO_JWT_ISSUER", default: "maestro"),
        audience: try env.resolve(self.jwtAudience, env: "MAESTRO_JWT_AUDIENCE", default: "maestro")
      ),
      logLevel: level,
      logFormat: format,
      drainDelay: try env.resolveDuration(self.drainDelay, env: "MAESTRO_DRAIN_DELAY", default: .zero)
    )
    return config
  }

  private static func port(_ value: Int, _ setting: String) throws(ConfigurationError) -> Int {
    guard (0...65_535).contains(value) else {
      throw ConfigurationError(setting: setting, message: "port \(value) is outside 0–65535")
    }
    return value
  }
}
