import ArgumentParser
import Foundation
import MaestroKit
import MaestroMigration

@main
struct MigrationServiceCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "migration-service",
    abstract: "Maestro migration-service: schemas, roles and versioned migrations for every service.",
    subcommands: [MigrateCommand.self, Serve.self, ProbeCommand.self],
    defaultSubcommand: Serve.self
  )

  struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the gRPC service (default).")
    @OptionGroup var options: ServiceOptions

    @Option(help: "Folder holding <service>/migrations/*.sql. [MAESTRO_MIGRATIONS_DIR, default services]")
    var migrationsDir: String?

    func run() async throws {
      let root = ProcessInfo.processInfo.environment["MAESTRO_MIGRATIONS_DIR"].flatMap { $0.isEmpty ? nil : $0 }
      let migrationsRoot = self.migrationsDir ?? root ?? "services"
      try await MaestroMain.serve(options: self.options, defaults: MigrationServer.defaults) { host in
        MigrationServer.components(host: host, migrationsRoot: migrationsRoot)
      }
    }
  }
}
