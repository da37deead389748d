import ArgumentParser
import Foundation
import Logging
import MaestroKit
import MaestroWorkflow

/// `maestro-bench workflow`: the engine's throughput against a migrated database.
@main
struct BenchCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "maestro-bench",
    abstract: "Maestro benchmarks (run through make bench-…).",
    subcommands: [Workflow.self]
  )

  struct Workflow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Completed 1-step workflows per second and start→complete latency.")

    @Option(help: "The workflow role's database URL.") var databaseURL: String
    @Option(help: "Seconds of load.") var seconds: Int = 10
    @Option(help: "Concurrent run starters (StartRun callers).") var starters: Int = 32
    @Option(help: "Engine executor loops.") var executors: Int = 4
    @Option(help: "Steps each executor claims (and records) per batch (the service default).") var batchSize: Int = 32

    func run() async throws {
      var logger = Logger(label: "bench")
      logger.logLevel = .warning
      let database = try DatabaseConfiguration(url: self.databaseURL, schema: "workflow")
      let report = try await WorkflowBenchmark.run(
        database: database, duration: .seconds(self.seconds), starters: self.starters, executors: self.executors, batchSize: self.batchSize, logger: logger
      )
      print("load: \(self.starters) concurrent starters, \(self.executors) executor loops (batch \(self.batchSize)), \(self.seconds) s")
      print(report)
      print(String(format: "WORKFLOWS_PER_SECOND=%.0f", report.perSecond))
    }
  }
}
