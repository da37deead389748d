import ArgumentParser
import Foundation
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
    @OptionGroup var engine: EngineOptions
    @OptionGroup var reporter: ReporterOptions

    func run() async throws {
      var settings: WorkflowServer.Settings
      do {
        let identity = "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)"
        settings = try self.engine.resolve(environment: ProcessInfo.processInfo.environment, identity: identity)
        settings.reporter = try self.reporter.resolve(serviceName: "workflow-service", environment: ProcessInfo.processInfo.environment)
      } catch {
        FileHandle.standardError.write(Data("workflow-service: \(error)\n".utf8))
        throw ExitCode(2)
      }
      try await MaestroMain.serve(options: self.options, defaults: WorkflowServer.defaults) { host in
        WorkflowServer.components(host: host, settings: settings)
      }
    }
  }
}
