import ArgumentParser
import MaestroKit
import MaestroWorkflow

@main
struct WorkflowServiceCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "workflow-service",
    abstract: "Maestro workflow-service: definitions, runs and the durable execution engine.",
    subcommands: [Serve.self, ProbeCommand.self],
    defaultSubcommand: Serve.self
  )

  struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the service (default).")
    @OptionGroup var options: ServiceOptions

    func run() async throws {
      try await MaestroMain.serve(options: self.options, defaults: WorkflowServer.defaults) { host in
        WorkflowServer.components(host: host)
      }
    }
  }
}
