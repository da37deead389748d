import Foundation
public import Logging
public import PostgresNIO

/// Where and as whom a service connects to Postgres, parsed from a
/// `postgres://user:password@host:port/database?sslmode=…` URL.
///
/// The connection's `search_path` is the service's own schema, so unqualified table names
/// resolve there and nowhere else.
public struct DatabaseConfiguration: Sendable, CustomStringConvertible {
  /// How TLS to Postgres is negotiated (`sslmode`).
  public enum TLSMode: String, Sendable {
    /// Plaintext (the local suite, on 127.0.0.1).
    case disable
    /// TLS when the server offers it.
    case prefer
    /// TLS or fail.
    case require
  }

  public var host: String
  public var port: Int
  public var username: String
  public var password: String?
  public var database: String
  /// The schema this service owns; set as `search_path` on every connection.
  public var schema: String
  public var tls: TLSMode
  public var maxConnections: Int = 20
  /// How long startup waits to reach Postgres before failing with a clear error.
  public var connectTimeout: Duration = .seconds(10)
  /// Extra settings every connection starts with (startup parameters), e.g. a custom GUC
  /// such as `maestro.tenant`.
  public var sessionSettings: [(String, String)] = []

  public init(
    host: String,
    port: Int,
    username: String,
    password: String?,
    database: String,
    schema: String,
    tls: TLSMode = .disable
  ) {
    self.host = host
    self.port = port
    self.username = username
    self.password = password
    self.database = database
    self.schema = schema
    self.tls = tls
  }

  /// Parses `url`; throws ``URLError`` naming what is wrong. The password is never echoed.
  public init(url: String, schema: String) throws(URLError) {
    guard let components = URLComponents(string: url) else {
      throw URLError(description: "not a URL (expected postgres://user:password@host:port/database)")
    }
    guard components.scheme == "postgres" || components.scheme == "postgresql" else {
      throw URLError(description: "scheme must be postgres:// or postgresql://")
    }
    guard let host = components.host, !host.isEmpty else { throw URLError(description: "missing host") }
    guard let user = components.user, !user.isEmpty else { throw URLError(description: "missing user") }
    let database = String(components.path.drop(while: { $0 == "/" }))
    guard !database.isEmpty else { throw URLError(description: "missing database name") }
    var tls = TLSMode.prefer
    for item in components.queryItems ?? [] {
      switch item.name {
      case "sslmode":
        guard let value = item.value, let mode = TLSMode(rawValue: value) else {
          throw URLError(description: "sslmode must be disable, prefer or require")
        }
        tls = mode
      default:
        throw URLError(description: "unsupported URL parameter '\(item.name)'")
      }
    }
    self.init(
      host: host,
      port: components.port ?? 5432,
      username: user.removingPercentEncoding ?? user,
      password: components.password.map { $0.removingPercentEncoding ?? $0 },
      database: database,
      schema: schema,
      tls: tls
    )
  }

  /// A Postgres URL that could not be used.
  public struct URLError: Error, Sendable, CustomStringConvertible {
    public var description: String
  }

  /// For logs: everything but the password.
  public var description: String {
    "postgres://\(self.username)@\(self.host):\(self.port)/\(self.database) (schema \(self.schema))"
  }

  /// A client for this configuration. It must be run (`run()`, or in a `ServiceGroup`) before use.
  public func makeClient(logger: Logger) -> PostgresClient {
    let tls: PostgresClient.Configuration.TLS
    switch self.tls {
    case .disable: tls = .disable
    case .prefer: tls = .prefer(.makeClientConfiguration())
    case .require: tls = .require(.makeClientConfiguration())
    }
    var configuration = PostgresClient.Configuration(
      host: self.host,
      port: self.port,
      username: self.username,
      password: self.password,
      database: self.database,
      tls: tls
    )
    configuration.options.maximumConnections = self.maxConnections
    configuration.options.connectTimeout = self.connectTimeout
    configuration.options.additionalStartupParameters = [
      ("search_path", self.schema),
      ("application_name", "maestro-\(self.schema)"),
    ] + self.sessionSettings
    return PostgresClient(configuration: configuration, backgroundLogger: logger)
  }
}
