import ArgumentParser
import MaestroKit
import Testing

@Suite("Service configuration")
struct ServiceOptionsTests {
  static let defaults = ServiceDefaults(serviceName: "workflow-service", schema: "workflow", grpcPort: 9101, adminPort: 9202)

  @Test("defaults apply when neither flag nor environment is set")
  func defaults() throws {
    let config = try ServiceOptions.parse([]).resolve(defaults: Self.defaults, environment: [:])
    #expect(config.host == "127.0.0.1")
    #expect(config.grpcPort == 9101)
    #expect(config.adminPort == 9202)
    #expect(config.database.username == "maestro_workflow")
    #expect(config.database.port == 55432)
    #expect(config.database.schema == "workflow")
    #expect(config.database.tls == .disable)
    #expect(config.token.jwks == .url("http://127.0.0.1:8080/.well-known/jwks.json"))
    #expect(config.logFormat == .json)
    #expect(config.drainDelay == .zero)
  }

  @Test("the environment overrides defaults and flags override the environment")
  func precedence() throws {
    let environment = [
      "MAESTRO_GRPC_PORT": "7000",
      "MAESTRO_ADMIN_PORT": "7001",
      "MAESTRO_LOG_LEVEL": "debug",
      "MAESTRO_DRAIN_DELAY": "5s",
      "MAESTRO_JWKS_FILE": "/etc/maestro/jwks.json",
    ]
    let fromEnvironment = try ServiceOptions.parse([]).resolve(defaults: Self.defaults, environment: environment)
    #expect(fromEnvironment.grpcPort == 7000)
    #expect(fromEnvironment.adminPort == 7001)
    #expect(fromEnvironment.logLevel == .debug)
    #expect(fromEnvironment.drainDelay == .seconds(5))
    #expect(fromEnvironment.token.jwks == .file("/etc/maestro/jwks.json"))

    let fromFlags = try ServiceOptions.parse(["--grpc-port", "8000", "--log-level", "error", "--drain-delay", "250ms"])
      .resolve(defaults: Self.defaults, environment: environment)
    #expect(fromFlags.grpcPort == 8000)
    #expect(fromFlags.adminPort == 7001)
    #expect(fromFlags.logLevel == .error)
    #expect(fromFlags.drainDelay == .milliseconds(250))
  }

  @Test(
    "a malformed setting is an error naming it",
    arguments: [
      ("MAESTRO_GRPC_PORT", "ninety"),
      ("MAESTRO_GRPC_PORT", "70000"),
      ("MAESTRO_DB_MAX_CONNECTIONS", "0"),
      ("MAESTRO_LOG_LEVEL", "loud"),
      ("MAESTRO_LOG_FORMAT", "xml"),
      ("MAESTRO_DRAIN_DELAY", "soon"),
      ("MAESTRO_DATABASE_URL", "mysql://u:p@h/db"),
      ("MAESTRO_DATABASE_URL", "postgres://h:5432/db"),
      ("MAESTRO_DATABASE_URL", "postgres://u:p@h:5432/"),
      ("MAESTRO_DATABASE_URL", "postgres://u:p@h:5432/db?sslmode=sometimes"),
    ]
  )
  func malformed(variable: String, value: String) throws {
    let error = #expect(throws: ConfigurationError.self) {
      try ServiceOptions.parse([]).resolve(defaults: Self.defaults, environment: [variable: value])
    }
    #expect(error?.setting == variable)
  }

  @Test("a database URL's parts are decoded and the password never printed")
  func databaseURL() throws {
    let config = try DatabaseConfiguration(url: "postgres://svc%40x:p%2Fss@db.internal:6543/maestro?sslmode=require", schema: "auth")
    #expect(config.username == "svc@x")
    #expect(config.password == "p/ss")
    #expect(config.host == "db.internal")
    #expect(config.port == 6543)
    #expect(config.tls == .require)
    #expect(!config.description.contains("p/ss"))
  }
}
