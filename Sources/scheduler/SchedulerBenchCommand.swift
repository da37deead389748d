import ArgumentParser
import Logging
import MaestroKit
import MaestroScheduler

/// `scheduler bench`: the driver of `make bench-scheduler` (deploy/local/bench-scheduler.sh).
struct SchedulerBenchCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Benchmark a running scheduler with 100,000 schedules (make bench-scheduler).")

  @Option(help: "URL of the scheduler role on the benchmark's migrated, disposable database.")
  var databaseURL: String

  @Option(help: "PID of the scheduler process under test (its CPU is read from /proc).")
  var schedulerPid: Int32

  @Option(help: "workflow-service gRPC address the scheduler starts runs on.")
  var workflowTarget: String

  @Option(help: "auth-gateway gRPC address (client-credentials token for the ceiling).")
  var authTarget: String

  @Option(help: "The scheduler service account's secret file.")
  var clientSecretFile: String

  @Option(help: "Schedules to create.")
  var schedules = 100_000

  @Option(help: "Seconds of idle measurement.")
  var idleSeconds: Double = 20

  @Option(help: "Seconds of firing measurement.")
  var fireSeconds: Double = 60

  func run() async throws {
    guard let workflow = HostPort(self.workflowTarget), let auth = HostPort(self.authTarget) else {
      throw ValidationError("targets must be host:port")
    }
    var options = SchedulerBenchmark.Options(databaseURL: self.databaseURL, schedulerPID: self.schedulerPid, workflowTarget: workflow, authTarget: auth, clientSecretFile: self.clientSecretFile)
    options.schedules = self.schedules
    options.idleSeconds = self.idleSeconds
    options.fireSeconds = self.fireSeconds
    var logger = Logger(label: "scheduler-bench")
    logger.logLevel = .error
    try await SchedulerBenchmark.run(options, logger: logger)
  }
}
