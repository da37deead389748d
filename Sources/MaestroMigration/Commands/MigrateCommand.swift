public import ArgumentParser
import Foundation
import MaestroKit

/// `migration-service migrate`: creates roles and schemas and applies every pending migration,
/// both phases in version order (the local suite and CI; deployments use `apply --phase`).
public struct MigrateCommand: AsyncParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "migrate",
    abstract: "Create the service roles and schemas and apply every pending migration (idempotent)."
  )

  @OptionGroup public var options: RunnerOptions

  public init() {}

  public func run() async throws {
    let report = try await self.options.run(command: "migrate") { runner in try await runner.migrate() }
    for migration in report.applied {
      print("applied \(migration.service) \(String(format: "%04d", migration.version))_\(migration.name) (\(migration.durationMilliseconds) ms, \(migration.lockRetries) lock retries)")
    }
    print(report.applied.isEmpty ? "migrations: up to date" : "migrations: applied \(report.applied.count)")
  }
}
