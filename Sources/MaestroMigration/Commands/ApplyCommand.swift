public import ArgumentParser
import Foundation
import MaestroProtos
import SwiftProtobuf

/// `migration-service apply --phase expand|contract`: applies the pending migrations of one
/// phase under the guard rails (the `Apply` RPC's twin).
public struct ApplyCommand: AsyncParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "apply",
    abstract: "Apply pending migrations of one phase: expand before a deploy, contract after it."
  )

  @Option(help: "expand (before deploying new code) or contract (after every instance runs it).")
  public var phase: String

  @Option(help: "Only this service (e.g. workflow-service).")
  public var service: String?

  @Option(help: "Stop after this version (needs --service).")
  public var targetVersion: Int?

  @Flag(help: "pg_dump each affected schema to the backup directory first.")
  public var backup = false

  @Flag(help: "Show what would run; change nothing.")
  public var dryRun = false

  @Option(help: "text or json.")
  public var format: OutputFormat = .text

  @OptionGroup public var options: RunnerOptions

  public init() {}

  public func run() async throws {
    guard let phase = Migration.Phase(rawValue: self.phase) else {
      throw ValidationError("--phase must be expand or contract")
    }
    let options = MigrationRunner.ApplyOptions(phase: phase, service: self.service, targetVersion: self.targetVersion, backup: self.backup, dryRun: self.dryRun)
    let report = try await self.options.run(command: "apply") { runner in try await runner.apply(options) }
    let response = Maestro_Migration_V1_ApplyResponse.with {
      $0.dryRun = self.dryRun
      $0.applied = report.applied.map(\.message)
      $0.planned = self.dryRun ? report.plans.map(\.message) : []
      $0.backups = report.backups.map(\.message)
    }
    if self.format == .json {
      print(try response.jsonString())
      return
    }
    if self.dryRun {
      PlanCommand.printText(report.plans)
      return
    }
    for backup in report.backups { print("backup \(backup.service): \(backup.path) (\(backup.sizeBytes) bytes)") }
    for migration in report.applied {
      print("applied \(migration.service) \(String(format: "%04d", migration.version))_\(migration.name) [\(migration.phase.rawValue)] in \(migration.durationMilliseconds) ms, \(migration.lockRetries) lock retries")
    }
    print(report.applied.isEmpty ? "apply --phase \(phase.rawValue): nothing pending" : "apply --phase \(phase.rawValue): applied \(report.applied.count)")
  }
}
