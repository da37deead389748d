public import ArgumentParser
import Foundation
import Logging
import MaestroKit

/// The options every database command of migration-service shares: where the database and the
/// migrations are, and the guard rails.
public struct RunnerOptions: ParsableArguments {
  @Option(help: "Administrator PostgreSQL URL (creates roles and schemas). [MAESTRO_ADMIN_DATABASE_URL]")
  public var adminDatabaseURL: String?

  @Option(help: "Folder holding <service>/migrations/*.sql. [MAESTRO_MIGRATIONS_DIR, default services]")
  public var migrationsDir: String?

  @Option(help: "Prefix of the per-service login roles. [MAESTRO_ROLE_PREFIX, default maestro_]")
  public var rolePrefix: String?

  @Option(help: "lock_timeout per statement unless a migration sets its own; 0 disables. [MAESTRO_LOCK_TIMEOUT, default 5s]")
  public var lockTimeout: String?

  @Option(help: "statement_timeout per statement unless a migration sets its own; 0 disables. [MAESTRO_STATEMENT_TIMEOUT, default 5m]")
  public var statementTimeout: String?

  @Option(help: "Retries of a migration whose lock was not granted. [MAESTRO_LOCK_RETRIES, default 10]")
  public var lockRetries: Int?

  @Option(help: "First pause between lock retries (doubles, capped at 30s). [MAESTRO_RETRY_BACKOFF, default 500ms]")
  public var retryBackoff: String?

  @Option(help: "How long to wait for another runner's lock; 0 exits at once naming the holder. [MAESTRO_LOCK_WAIT, default: wait]")
  public var lockWait: String?

  @Option(help: "Directory for pg_dump backups. [MAESTRO_BACKUP_DIR; unset: backups refused]")
  public var backupDir: String?

  @Option(help: "Log format: json or text. [MAESTRO_LOG_FORMAT, default text for this command]")
  public var logFormat: String?

  public init() {}

  /// Resolves flags > environment > defaults; exits with status 2 naming the bad setting.
  func settings(command: String) throws -> MigrateSettings {
    let environment = ProcessInfo.processInfo.environment
    let resolver = ConfigurationResolver(environment: environment)
    do {
      let defaults = GuardRails.default
      var lockWait: Duration?
      if let text = try resolver.resolve(self.lockWait, env: "MAESTRO_LOCK_WAIT") as String? {
        lockWait = try resolver.resolveDuration(text, env: "MAESTRO_LOCK_WAIT", default: .zero)
      }
      let guardRails = GuardRails(
        lockTimeout: try resolver.resolveDuration(self.lockTimeout, env: "MAESTRO_LOCK_TIMEOUT", default: defaults.lockTimeout),
        statementTimeout: try resolver.resolveDuration(self.statementTimeout, env: "MAESTRO_STATEMENT_TIMEOUT", default: defaults.statementTimeout),
        lockRetries: try resolver.resolve(self.lockRetries, env: "MAESTRO_LOCK_RETRIES", default: defaults.lockRetries),
        retryBackoff: try resolver.resolveDuration(self.retryBackoff, env: "MAESTRO_RETRY_BACKOFF", default: defaults.retryBackoff),
        lockWait: lockWait
      )
      guard guardRails.lockRetries >= 0 else {
        throw ConfigurationError(setting: "MAESTRO_LOCK_RETRIES", message: "must be 0 or more")
      }
      return try MigrateSettings(
        adminURL: resolver.resolve(self.adminDatabaseURL, env: "MAESTRO_ADMIN_DATABASE_URL"),
        migrationsRoot: resolver.resolve(self.migrationsDir, env: "MAESTRO_MIGRATIONS_DIR", default: "services"),
        rolePrefix: resolver.resolve(self.rolePrefix, env: "MAESTRO_ROLE_PREFIX", default: "maestro_"),
        environment: environment,
        guardRails: guardRails,
        backupDirectory: resolver.resolve(self.backupDir, env: "MAESTRO_BACKUP_DIR"),
        pgDump: environment["MAESTRO_PG_DUMP"].flatMap { $0.isEmpty ? nil : $0 },
        pgRestore: environment["MAESTRO_PG_RESTORE"].flatMap { $0.isEmpty ? nil : $0 }
      )
    } catch {
      FileHandle.standardError.write(Data("migration-service \(command): \(error)\n".utf8))
      throw ExitCode(2)
    }
  }

  /// Bootstraps logging for a one-shot command and returns its logger.
  func logger() -> Logger {
    let resolver = ConfigurationResolver(environment: ProcessInfo.processInfo.environment)
    let raw = (try? resolver.resolve(self.logFormat, env: "MAESTRO_LOG_FORMAT", default: "text")) ?? "text"
    LoggingSystem.bootstrapMaestro(format: LogFormat(rawValue: raw) ?? .text, level: .info)
    return Logger(label: "migration-service")
  }

  /// Runs `body` with a runner; a failure is logged in one line and exits 1.
  func run<Result: Sendable>(
    command: String,
    _ body: @escaping @Sendable (MigrationRunner) async throws -> Result
  ) async throws -> Result {
    let settings = try self.settings(command: command)
    let logger = self.logger()
    if !settings.defaultedPasswordSchemas.isEmpty {
      let variables = settings.defaultedPasswordSchemas.map { "MAESTRO_DB_PASSWORD_\($0.uppercased())" }
      logger.warning("using local-suite role passwords; set \(variables.joined(separator: ", ")) outside local development")
    }
    do {
      return try await settings.withRunner(logger: logger, body)
    } catch {
      FileHandle.standardError.write(Data("migration-service \(command): \(MaestroMain.explain(error))\n".utf8))
      throw ExitCode.failure
    }
  }
}

/// `--format text|json`: JSON prints the API's response message (protobuf JSON).
public enum OutputFormat: String, ExpressibleByArgument, Sendable {
  case text
  case json
}
