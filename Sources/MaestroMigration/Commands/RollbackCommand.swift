public import ArgumentParser
import Foundation
import MaestroProtos
import SwiftProtobuf

/// `migration-service rollback --service S --to N`: runs the down sections of the migrations
/// newer than N, newest first.
public struct RollbackCommand: AsyncParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "rollback",
    abstract: "Roll a service back to a version by running down sections in reverse."
  )

  @Option(help: "The service (e.g. workflow-service).")
  public var service: String

  @Option(name: .customLong("to"), help: "Roll back every migration newer than this version.")
  public var toVersion: Int

  @Flag(help: "pg_dump the schema to the backup directory first.")
  public var backup = false

  @Flag(help: "Show what would be rolled back; change nothing.")
  public var dryRun = false

  @Option(help: "text or json.")
  public var format: OutputFormat = .text

  @OptionGroup public var options: RunnerOptions

  public init() {}

  public func run() async throws {
    let (service, toVersion, backup, dryRun) = (self.service, self.toVersion, self.backup, self.dryRun)
    let report = try await self.options.run(command: "rollback") { runner in
      try await runner.rollback(service: service, toVersion: toVersion, backup: backup, dryRun: dryRun)
    }
    if self.format == .json {
      print(try Maestro_Migration_V1_RollbackResponse.with {
        $0.dryRun = dryRun
        $0.rolledBack = report.applied.map(\.message)
        $0.backups = report.backups.map(\.message)
      }.jsonString())
      return
    }
    for backup in report.backups { print("backup \(backup.service): \(backup.path) (\(backup.sizeBytes) bytes)") }
    for migration in report.applied {
      print("\(dryRun ? "would roll back" : "rolled back") \(service) \(String(format: "%04d", migration.version))_\(migration.name)")
    }
    print(report.applied.isEmpty ? "rollback: nothing newer than \(toVersion)" : "rollback: \(report.applied.count) migration(s) \(dryRun ? "would be " : "")rolled back")
  }
}
