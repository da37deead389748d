import ArgumentParser
import Foundation
import Logging
import MaestroKit
import MaestroMigration

@main
struct MigrationServiceCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "migration-service",
    abstract: "Maestro migration-service: schemas, roles and zero-downtime migrations for every service.",
    subcommands: [
      MigrateCommand.self, PlanCommand.self, ApplyCommand.self, RollbackCommand.self, StatusCommand.self,
      LintCommand.self, RestoreCommand.self, Serve.self, ProbeCommand.self,
    ],
    defaultSubcommand: Serve.self
  )

  struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the gRPC service (default).")
    @OptionGroup var options: ServiceOptions

    @Option(help: "Folder holding <service>/migrations/*.sql. [MAESTRO_MIGRATIONS_DIR, default services]")
    var migrationsDir: String?

    @Option(help: "Administrator PostgreSQL URL; enables the Apply and Rollback RPCs. [MAESTRO_ADMIN_DATABASE_URL]")
    var adminDatabaseURL: String?

    @Option(help: "Directory for pg_dump backups requested over the API. [MAESTRO_BACKUP_DIR]")
    var backupDir: String?

    func run() async throws {
      let environment = ProcessInfo.processInfo.environment
      let root = environment["MAESTRO_MIGRATIONS_DIR"].flatMap { $0.isEmpty ? nil : $0 }
      let migrationsRoot = self.migrationsDir ?? root ?? "services"
      var settings: MigrateSettings?
      if let url = self.adminDatabaseURL ?? environment["MAESTRO_ADMIN_DATABASE_URL"].flatMap({ $0.isEmpty ? nil : $0 }) {
        do {
          settings = try MigrateSettings(
            adminURL: url,
            migrationsRoot: migrationsRoot,
            rolePrefix: environment["MAESTRO_ROLE_PREFIX"].flatMap { $0.isEmpty ? nil : $0 } ?? "maestro_",
            environment: environment,
            backupDirectory: self.backupDir ?? environment["MAESTRO_BACKUP_DIR"].flatMap { $0.isEmpty ? nil : $0 }
          )
        } catch {
          FileHandle.standardError.write(Data("migration-service: \(error)\n".utf8))
          throw ExitCode(2)
        }
      }
      try await MaestroMain.serve(options: self.options, defaults: MigrationServer.defaults) { host in
        MigrationServer.components(
          host: host,
          migrationsRoot: migrationsRoot,
          admin: settings.map { MigrationServer.AdminAccess(settings: $0, logger: host.logger) }
        )
      }
    }
  }
}
