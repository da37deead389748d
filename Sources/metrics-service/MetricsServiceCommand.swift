import ArgumentParser
import Foundation
import Logging
import MaestroKit
import MaestroMetrics

@main
struct MetricsServiceCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "metrics-service",
    abstract: "Maestro metrics-service: outcomes, SLOs, error budgets and alerts.",
    subcommands: [
      Serve.self, ExportRules.self, Bench.self, ProbeCommand.self,
      SLOStatusCommand.self, WorkflowStatsCommand.self, AlertsCommand.self, CreateReceiverCommand.self,
    ],
    defaultSubcommand: Serve.self
  )

  struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the service (default).")
    @OptionGroup var options: ServiceOptions
    @OptionGroup var metrics: MetricsOptions

    func run() async throws {
      let settings: MetricsServer.Settings
      do {
        settings = try self.metrics.resolve(environment: ProcessInfo.processInfo.environment)
      } catch {
        FileHandle.standardError.write(Data("metrics-service: \(error)\n".utf8))
        throw ExitCode(2)
      }
      try await MaestroMain.serve(options: self.options, defaults: MetricsServer.defaults) { host in
        MetricsServer.components(host: host, settings: settings)
      }
    }
  }

  struct ExportRules: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "export-rules",
      abstract: "Print SLOs as a Prometheus rule file (recording + multi-window burn-rate alerting rules), without a database."
    )

    @Option(help: "OpenSLO YAML file(s); without any, the shipped default SLOs.")
    var sloFile: [String] = []

    @Option(help: "Tenant label of the rules.")
    var tenant = "default"

    func run() async throws {
      var slos: [MaestroMetrics.SLODefinition] = []
      do {
        for file in self.sloFile {
          slos += try SLODefinition.parseOpenSLO(try String(contentsOfFile: file, encoding: .utf8), source: file)
        }
      } catch {
        FileHandle.standardError.write(Data("metrics-service export-rules: \(error)\n".utf8))
        throw ExitCode(2)
      }
      if self.sloFile.isEmpty { slos = SLODefaults.all }
      print(PrometheusRules.render(slos.map { (self.tenant, $0) }), terminator: "")
    }
  }

  struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Benchmark ingest and SLO status against a migrated database (make bench-metrics).")

    @Option(help: "URL of the metrics role on a migrated, disposable database.")
    var databaseURL: String

    @Option(help: "Seconds of ingest.")
    var seconds: Double = 10

    @Option(help: "Days of 1-minute data for the status benchmark.")
    var days = 30

    func run() async throws {
      var options = MetricsBenchmark.Options(databaseURL: self.databaseURL)
      options.seconds = self.seconds
      options.days = self.days
      var logger = Logger(label: "metrics-bench")
      logger.logLevel = .error
      try await MetricsBenchmark.run(options, logger: logger)
    }
  }
}
