import ArgumentParser
import MaestroKit
import MaestroMetrics

@main
struct MetricsServiceCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "metrics-service",
    abstract: "Maestro metrics-service: outcomes, SLOs, error budgets and alerts.",
    subcommands: [Serve.self, ProbeCommand.self],
    defaultSubcommand: Serve.self
  )

  struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the service (default).")
    @OptionGroup var options: ServiceOptions

    func run() async throws {
      try await MaestroMain.serve(options: self.options, defaults: MetricsServer.defaults) { host in
        MetricsServer.components(host: host)
      }
    }
  }
}
