public import ArgumentParser
import Foundation
import Logging
import MaestroKit

/// `migration-service migrate`: creates roles and schemas and applies pending migrations, as the
/// database administrator.
public struct MigrateCommand: AsyncParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "migrate",
    abstract: "Create the service roles and schemas and apply pending migrations (idempotent)."
  )

  @Option(help: "Administrator PostgreSQL URL (creates roles and schemas). [MAESTRO_ADMIN_DATABASE_URL]")
  public var adminDatabaseURL: String?

  @Option(help: "Folder holding <service>/migrations/*.sql. [MAESTRO_MIGRATIONS_DIR, default services]")
  public var migrationsDir: String?

  @Option(help: "Prefix of the per-service login roles. [MAESTRO_ROLE_PREFIX, default maestro_]")
  public var rolePrefix: String?

  @Option(help: "Log format: json or text. [MAESTRO_LOG_FORMAT, default text for this command]")
  public var logFormat: String?

  public init() {}

  public func run() async throws {
    let environment = ProcessInfo.processInfo.environment
    let resolver = ConfigurationResolver(environment: environment)
    let settings: MigrateSettings
    do {
      settings = try MigrateSettings(
        adminURL: resolver.resolve(self.adminDatabaseURL, env: "MAESTRO_ADMIN_DATABASE_URL"),
        migrationsRoot: resolver.resolve(self.migrationsDir, env: "MAESTRO_MIGRATIONS_DIR", default: "services"),
        rolePrefix: resolver.resolve(self.rolePrefix, env: "MAESTRO_ROLE_PREFIX", default: "maestro_"),
        environment: environment
      )
    } catch {
      FileHandle.standardError.write(Data("migration-service migrate: \(error)\n".utf8))
      throw ExitCode(2)
    }
    let format = LogFormat(rawValue: (try? resolver.resolve(self.logFormat, env: "MAESTRO_LOG_FORMAT", default: "text")) ?? "text") ?? .text
    LoggingSystem.bootstrapMaestro(format: format, level: .info)
    let logger = Logger(label: "migration-service")
    if !settings.defaultedPasswordSchemas.isEmpty {
      let variables = settings.defaultedPasswordSchemas.map { "MAESTRO_DB_PASSWORD_\($0.uppercased())" }
      logger.warning("using local-suite role passwords; set \(variables.joined(separator: ", ")) outside local development")
    }
    do {
      let report = try await settings.migrate(logger: logger)
      for migration in report.applied {
        print("applied \(migration.service) \(String(format: "%04d", migration.version))_\(migration.name)")
      }
      print(report.applied.isEmpty ? "migrations: up to date" : "migrations: applied \(report.applied.count)")
    } catch {
      logger.critical("migrate failed: \(MaestroMain.explain(error))")
      throw ExitCode.failure
    }
  }
}
