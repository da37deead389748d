public import ArgumentParser
import Foundation
import MaestroProtos
import SwiftProtobuf

/// `migration-service status`: applied and pending migrations per service, with checksums,
/// durations, who/when, drift and registered instance expectations.
public struct StatusCommand: AsyncParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "status",
    abstract: "Applied and pending migrations, drift and instance expectations per service."
  )

  @Option(help: "Only this service.")
  public var service: String?

  @Flag(help: "Exit 1 when any drift is found.")
  public var failOnDrift = false

  @Option(help: "text or json.")
  public var format: OutputFormat = .text

  @OptionGroup public var options: RunnerOptions

  public init() {}

  public func run() async throws {
    let service = self.service
    let statuses = try await self.options.run(command: "status") { runner in try await runner.status(service: service) }
    if self.format == .json {
      print(try Maestro_Migration_V1_GetStatusResponse.with { $0.services = statuses.map(\.message) }.jsonString())
    } else {
      for status in statuses {
        print("\(status.service.name) (schema \(status.service.schema)): version \(status.currentVersion), \(status.applied.count) applied, \(status.pending.count) pending")
        for entry in status.applied {
          print("  applied \(String(format: "%04d", entry.version))_\(entry.name)  \(entry.phase)  sha256 \(entry.checksum.prefix(12))  \(entry.durationMilliseconds) ms  \(entry.lockRetries) retries  by \(entry.appliedBy) at \(entry.appliedAt)\(entry.backupPath.map { "  backup \($0)" } ?? "")")
        }
        for migration in status.pending {
          print("  pending \(String(format: "%04d", migration.version))_\(migration.name)  \(migration.phase.rawValue)  sha256 \(migration.checksum.prefix(12))")
        }
        for drift in status.drift { print("  DRIFT \(drift.kind.rawValue) \(drift.object): \(drift.message)") }
        for expectation in status.expectations {
          print("  instance \(expectation.instanceID) expects version \(expectation.version) (until \(expectation.expiresAt))")
        }
      }
    }
    if self.failOnDrift, statuses.contains(where: { !$0.drift.isEmpty }) { throw ExitCode.failure }
  }
}

extension MigrationRunner {
  /// The status of every service (or one), as the administrator sees it.
  public func status(service: String?) async throws -> [MigrationStatus] {
    try self.validate(service: service)
    return try await self.client.withConnection { connection in
      try await MigrationStatus.read(services: self.services, only: service, on: connection, logger: self.logger)
    }
  }
}
