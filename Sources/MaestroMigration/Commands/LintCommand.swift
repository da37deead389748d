public import ArgumentParser
import Foundation
import MaestroKit
import MaestroProtos
import SwiftProtobuf

/// `migration-service lint`: lints every migration (or one service's, or given files) and exits
/// 1 on an unwaived error. Needs no database; `make test` runs it over the repository.
public struct LintCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "lint",
    abstract: "Lint migrations for locking hazards (line, rule, safe rewrite); exit 1 on unwaived errors."
  )

  @Option(help: "Folder holding <service>/migrations/*.sql. [MAESTRO_MIGRATIONS_DIR, default services]")
  public var migrationsDir: String?

  @Option(help: "Only this service.")
  public var service: String?

  @Option(help: "The lock_timeout the runner will use (findings depend on it). [MAESTRO_LOCK_TIMEOUT, default 5s]")
  public var lockTimeout: String?

  @Flag(help: "Also list waived findings.")
  public var showWaived = false

  @Option(help: "text or json.")
  public var format: OutputFormat = .text

  public init() {}

  public func run() throws {
    let resolver = ConfigurationResolver(environment: ProcessInfo.processInfo.environment)
    let root: String
    let lockTimeout: Duration
    var services: [ManagedService]
    do {
      root = try resolver.resolve(self.migrationsDir, env: "MAESTRO_MIGRATIONS_DIR", default: "services")
      lockTimeout = try resolver.resolveDuration(self.lockTimeout, env: "MAESTRO_LOCK_TIMEOUT", default: GuardRails.default.lockTimeout)
      services = try ManagedService.loadAll(root: root)
    } catch {
      FileHandle.standardError.write(Data("migration-service lint: \(error)\n".utf8))
      throw ExitCode(2)
    }
    if let service = self.service {
      services = services.filter { $0.name == service }
      guard !services.isEmpty else { throw ValidationError("unknown service '\(service)'") }
    }
    let linter = MigrationLinter(defaultLockTimeout: lockTimeout)
    let findings = services.flatMap { linter.lint($0) }
    let passed = !findings.contains { $0.blocks }
    if self.format == .json {
      print(try Maestro_Migration_V1_LintResponse.with {
        $0.findings = findings.map(\.protoMessage)
        $0.passed = passed
      }.jsonString())
    } else {
      for finding in findings where self.showWaived || !finding.waived { print(finding.description) }
      let count = services.reduce(0) { $0 + $1.migrations.count }
      let waived = findings.filter(\.waived).count
      print("lint: \(count) migrations of \(services.count) services, \(findings.filter(\.blocks).count) errors, \(waived) waived")
    }
    if !passed { throw ExitCode.failure }
  }
}
