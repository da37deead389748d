/// The settings every Maestro service runs with, resolved from flags, environment and defaults.
public struct ServiceConfiguration: Sendable {
  /// The executable's name, e.g. `workflow-service`; used in logs and metrics.
  public var serviceName: String
  /// Address the gRPC and admin listeners bind to.
  public var host: String
  /// gRPC port; 0 binds a free port (tests).
  public var grpcPort: Int
  /// Admin HTTP port (/healthz, /readyz, /metrics); 0 binds a free port.
  public var adminPort: Int
  /// This service's own database role and schema.
  public var database: DatabaseConfiguration
  /// How callers' access tokens are verified.
  public var token: TokenVerificationConfiguration
  public var logLevel: LogLevelName
  public var logFormat: LogFormat
  /// On graceful shutdown, how long health reports NOT_SERVING before listeners stop accepting.
  public var drainDelay: Duration

  public init(
    serviceName: String,
    host: String,
    grpcPort: Int,
    adminPort: Int,
    database: DatabaseConfiguration,
    token: TokenVerificationConfiguration,
    logLevel: LogLevelName = .info,
    logFormat: LogFormat = .json,
    drainDelay: Duration = .zero
  ) {
    self.serviceName = serviceName
    self.host = host
    self.grpcPort = grpcPort
    self.adminPort = adminPort
    self.database = database
    self.token = token
    self.logLevel = logLevel
    self.logFormat = logFormat
    self.drainDelay = drainDelay
  }
}

/// A service's built-in defaults: the local suite's ports and database role.
public struct ServiceDefaults: Sendable {
  public var serviceName: String
  /// The Postgres schema the service owns (also its role's suffix).
  public var schema: String
  public var grpcPort: Int
  public var adminPort: Int
  public var databaseURL: String
  public var jwksURL: String

  public init(serviceName: String, schema: String, grpcPort: Int, adminPort: Int) {
    self.serviceName = serviceName
    self.schema = schema
    self.grpcPort = grpcPort
    self.adminPort = adminPort
    self.databaseURL = LocalSuite.databaseURL(schema: schema)
    self.jwksURL = "http://127.0.0.1:\(LocalSuite.gatewayRESTPort)/.well-known/jwks.json"
  }
}

/// The fixed local ports and credentials of `make run` (documented in the README).
public enum LocalSuite {
  public static let postgresPort = 55432
  public static let gatewayRESTPort = 8080

  /// The local suite's URL for the role that owns `schema`. Local-only credentials: deployments
  /// set `MAESTRO_DATABASE_URL` from a secret.
  public static func databaseURL(schema: String) -> String {
    "postgres://maestro_\(schema):\(self.localPassword(schema: schema))@127.0.0.1:\(self.postgresPort)/maestro?sslmode=disable"
  }

  /// The password `migration-service migrate` gives a service role when no
  /// `MAESTRO_DB_PASSWORD_<SCHEMA>` is set. For the local suite only.
  public static func localPassword(schema: String) -> String { "maestro-\(schema)-local" }
}
