public import ArgumentParser
import Foundation
import MaestroProtos
import SwiftProtobuf

/// `migration-service plan`: pending migrations per service with their phase, lint findings and
/// blockers; applies nothing.
public struct PlanCommand: AsyncParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "plan",
    abstract: "List what apply would run (phase, lint findings, blockers); change nothing."
  )

  @Option(help: "expand or contract; both when omitted.")
  public var phase: String?

  @Option(help: "Only this service.")
  public var service: String?

  @Option(help: "text or json.")
  public var format: OutputFormat = .text

  @OptionGroup public var options: RunnerOptions

  public init() {}

  public func run() async throws {
    var phase: Migration.Phase?
    if let text = self.phase {
      guard let parsed = Migration.Phase(rawValue: text) else { throw ValidationError("--phase must be expand or contract") }
      phase = parsed
    }
    let options = MigrationRunner.ApplyOptions(phase: phase, service: self.service)
    let plans = try await self.options.run(command: "plan") { runner in try await runner.plan(options) }
    if self.format == .json {
      print(try Maestro_Migration_V1_PlanResponse.with { $0.services = plans.map(\.message) }.jsonString())
    } else {
      Self.printText(plans)
    }
  }

  static func printText(_ plans: [MigrationPlanner.ServicePlan]) {
    for plan in plans {
      print("\(plan.service.name): at version \(plan.currentVersion), \(plan.migrations.isEmpty ? "nothing to apply" : "\(plan.migrations.count) to apply")")
      for migration in plan.migrations {
        let kind = migration.transactional ? "transactional" : "non-transactional, resumable"
        print("  \(String(format: "%04d", migration.version))_\(migration.name)  \(migration.phase.rawValue)  \(kind)\(migration.down == nil ? "" : ", reversible")")
        for finding in plan.findings where finding.version == migration.version {
          print("    " + finding.description.replacingOccurrences(of: "\n", with: "\n    "))
        }
      }
      for blocker in plan.blockers { print("  BLOCKED: \(blocker)") }
    }
  }
}
