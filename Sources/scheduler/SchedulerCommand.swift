import ArgumentParser
import MaestroKit
import MaestroScheduler

@main
struct SchedulerCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "scheduler",
    abstract: "Maestro scheduler: cron and interval schedules that start workflow runs.",
    subcommands: [Serve.self, ProbeCommand.self],
    defaultSubcommand: Serve.self
  )

  struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the service (default).")
    @OptionGroup var options: ServiceOptions

    func run() async throws {
      try await MaestroMain.serve(options: self.options, defaults: SchedulerServer.defaults) { host in
        SchedulerServer.components(host: host)
      }
    }
  }
}
