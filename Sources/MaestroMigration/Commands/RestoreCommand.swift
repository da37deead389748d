public import ArgumentParser
import Foundation

/// `migration-service restore --backup-id N`: brings a schema back from a recorded pg_dump
/// backup; `--list` shows the recorded backups.
public struct RestoreCommand: AsyncParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "restore",
    abstract: "Restore a service's schema from a recorded backup (or --list them)."
  )

  @Option(help: "The backup's id (see --list).")
  public var backupID: Int64?

  @Flag(help: "List the recorded backups, newest first.")
  public var list = false

  @OptionGroup public var options: RunnerOptions

  public init() {}

  public func validate() throws {
    guard self.list != (self.backupID != nil) else { throw ValidationError("pass either --backup-id N or --list") }
  }

  public func run() async throws {
    if self.list {
      let records = try await self.options.run(command: "restore") { runner in try await runner.backups() }
      for record in records {
        print("\(record.id)  \(record.service)  version \(record.ledgerVersion)  \(record.createdAt)  \(record.path)")
      }
      if records.isEmpty { print("no backups recorded") }
      return
    }
    let id = self.backupID ?? 0
    let record = try await self.options.run(command: "restore") { runner in try await runner.restore(backupID: id) }
    print("restored \(record.service) (schema \(record.schema)) to version \(record.ledgerVersion) from \(record.path)")
  }
}
