import ArgumentParser
import Foundation
import MaestroKit
import MaestroMetrics

@main
struct MetricsServiceCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "metrics-service",
    abstract: "Maestro metrics-service: outcomes, SLOs, error budgets and alerts.",
    subcommands: [Serve.self, ExportRules.self, ProbeCommand.self],
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
}
