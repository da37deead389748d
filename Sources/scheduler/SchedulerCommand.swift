import ArgumentParser
import Foundation
import MaestroKit
import MaestroScheduler

@main
struct SchedulerCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "scheduler",
    abstract: "Maestro scheduler: cron and interval schedules that start workflow runs.",
    subcommands: [Serve.self, ProbeCommand.self, SchedulerBenchCommand.self],
    defaultSubcommand: Serve.self
  )

  struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the service (default).")
    @OptionGroup var options: ServiceOptions
    @OptionGroup var scheduler: SchedulerOptions

    func run() async throws {
      let settings: SchedulerServer.Settings
      do {
        settings = try self.scheduler.resolve(environment: ProcessInfo.processInfo.environment)
      } catch {
        FileHandle.standardError.write(Data("scheduler: \(error)\n".utf8))
        throw ExitCode(2)
      }
      try await MaestroMain.serve(options: self.options, defaults: SchedulerServer.defaults) { host in
        try SchedulerServer.components(host: host, settings: settings)
      }
    }
  }
}
