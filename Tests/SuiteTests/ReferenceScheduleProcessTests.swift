import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import MaestroKit
import MaestroProtos
import MaestroTestSupport
import PostgresNIO
import Testing

/// "Reference schedules fire on `make run`": auth-gateway, workflow-service and scheduler as
/// real processes, wired the way deploy/local/suite.sh wires them, except that ports are 0.
/// The scheduler gets no token file and no secret path: as in the suite it runs from the
/// directory whose `.local/secrets` the gateway bootstraps into, and takes the default client id
/// `scheduler` and secret file `.local/secrets/scheduler.secret` (the client-credentials grant
/// at the gateway). Only its gateway and workflow-service addresses are set.
@Suite("Reference schedules fire through the suite's wiring (processes, real Postgres)")
struct ReferenceScheduleProcessTests {
  @Test("the installed reference hello-world fires on its own and by trigger; both runs complete")
  func referenceHelloWorldFires() async throws {
    try await TestDatabase.with { db in
      _ = try await SuiteSmokeTests.migrate(db)
      // The suite's root: the gateway bootstraps into .local/secrets, the scheduler runs here.
      let root = FileManager.default.temporaryDirectory.appendingPathComponent("maestro-reference-\(UUID().uuidString)").path
      try FileManager.default.createDirectory(atPath: root + "/.local", withIntermediateDirectories: true)
      defer { try? FileManager.default.removeItem(atPath: root) }
      // Backends verify tokens with the gateway's keys, written here once the gateway is up
      // (they read the file lazily, on the first token).
      let jwksFile = root + "/jwks.json"
      try #"{"keys":[]}"#.write(toFile: jwksFile, atomically: true, encoding: .utf8)
      func environment(_ schema: String) -> [String: String] {
        [
          "MAESTRO_DATABASE_URL": db.serviceURL(schema: schema),
          "MAESTRO_JWKS_FILE": jwksFile,
          "MAESTRO_MIGRATIONS_DIR": TestEnvironment.servicesRoot,
          "MAESTRO_LOG_FORMAT": "json",
        ]
      }
      let serve = ["serve", "--host", "127.0.0.1", "--grpc-port", "0", "--admin-port", "0"]

      var workflowEnvironment = environment("workflow")
      workflowEnvironment["MAESTRO_WORKFLOWS_DIR"] = TestEnvironment.servicesRoot + "/workflow-service/workflows"
      let workflow = try ServiceProcess(name: "workflow-service", arguments: serve, environment: workflowEnvironment)
      let workflowPort = try await workflow.port("grpc_port")

      var gatewayEnvironment = environment("auth")
      gatewayEnvironment["MAESTRO_MASTER_KEY"] = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
      gatewayEnvironment["MAESTRO_BOOTSTRAP_ADMIN_PASSWORD"] = GatewayFrontDoorTests.adminPassword
      gatewayEnvironment["MAESTRO_BOOTSTRAP_ADMIN_PASSWORD_FILE"] = root + "/.local/bootstrap-admin.password"
      gatewayEnvironment["MAESTRO_BOOTSTRAP_SECRETS_DIR"] = root + "/.local/secrets"
      gatewayEnvironment["MAESTRO_WORKFLOW_SERVICE_ADDRESS"] = "127.0.0.1:\(workflowPort)"
      let gateway = try ServiceProcess(name: "auth-gateway", arguments: serve + ["--rest-port", "0"], environment: gatewayEnvironment)
      let gatewayPort = try await gateway.port("grpc_port")
      let restPort = try await gateway.port("rest_port")
      let rest = "http://127.0.0.1:\(restPort)"
      let serving = await GatewayFrontDoorTests.eventually(within: .seconds(60)) {
        (try? await HealthProbe.check(target: "127.0.0.1:\(gatewayPort)", service: "", timeout: .seconds(1))) == .serving
      }
      try #require(serving, "the gateway did not become SERVING:\n\(gateway.output)")
      let jwks = try await GatewayFrontDoorTests.request(rest + "/.well-known/jwks.json")
      try jwks.body.write(toFile: jwksFile, atomically: true, encoding: .utf8)
      let secretWritten = await GatewayFrontDoorTests.eventually(within: .seconds(30)) {
        FileManager.default.fileExists(atPath: root + "/.local/secrets/scheduler.secret")
      }
      try #require(secretWritten, "the gateway did not bootstrap the scheduler's secret:\n\(gateway.output)")

      // As in suite.sh: defaults for the service account, reference schedules on.
      var schedulerEnvironment = environment("scheduler")
      schedulerEnvironment["MAESTRO_AUTH_TARGET"] = "127.0.0.1:\(gatewayPort)"
      schedulerEnvironment["MAESTRO_WORKFLOW_TARGET"] = "127.0.0.1:\(workflowPort)"
      let scheduler = try ServiceProcess(name: "scheduler", arguments: serve, environment: schedulerEnvironment, workingDirectory: root)
      let schedulerPort = try await scheduler.port("grpc_port")

      let admin: Metadata = ["authorization": "Bearer \(try await GatewayFrontDoorTests.passwordToken(rest: rest))"]
      try await withGRPCClient(transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: schedulerPort), transportSecurity: .plaintext)) { schedulerClient in
        try await withGRPCClient(transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: gatewayPort), transportSecurity: .plaintext)) { gatewayClient in
          let schedules = Maestro_Scheduler_V1_SchedulerService.Client(wrapping: schedulerClient)
          let runs = Maestro_Workflow_V1_WorkflowService.Client(wrapping: gatewayClient)

          // Installed at startup for `default`, next fire on the next 5-minute boundary.
          var installed: Maestro_Scheduler_V1_Schedule?
          let found = await GatewayFrontDoorTests.eventually(within: .seconds(60)) {
            installed = try? await schedules.getSchedule(.with { $0.scheduleID = "reference-hello-world" }, metadata: admin).schedule
            return installed != nil
          }
          try #require(found, "reference-hello-world was not installed:\n\(scheduler.output.suffix(3000))")
          let reference = try #require(installed)
          #expect(reference.tenant == "default")
          #expect(reference.spec.cronExpressions == ["*/5 * * * *"])
          #expect(reference.target.workflowName == "hello-world")
          #expect(reference.state.nextFireTime.date.timeIntervalSinceNow <= 300)
          #expect(try await schedules.getSchedule(.with { $0.scheduleID = "reference-hello-case" }, metadata: admin).schedule.spec.cronExpressions == ["0 */6 * * *"])

          // 1. On its own: move its due time back to the last 5-minute boundary (as if the clock
          //    had reached it) and let the scheduler's tick find it, as it will on `make run`.
          //    That boundary may be up to 5 minutes ago: the catch-up window (default 1 minute)
          //    is widened so that the fire is started (as a catch-up) rather than missed.
          let now = Date().timeIntervalSince1970
          let boundary = Date(timeIntervalSince1970: (now / 300).rounded(.down) * 300)
          try await withRunningClient(try db.serviceConfiguration(schema: "scheduler")) { client in
            _ = try await client.query(
              "UPDATE schedules SET next_fire_at = \(boundary), next_nominal_at = \(boundary), catchup_window = interval '1 hour' WHERE tenant = 'default' AND name = 'reference-hello-world'"
            ).collect()
            _ = try await client.query("SELECT pg_notify('scheduler_schedules_changed', '')").collect()
          }
          let scheduledRun = try await Self.firedRun(schedules, admin: admin, fireTime: boundary, scheduler: scheduler)

          // 2. By hand: TriggerSchedule starts one more run at once (allow-all: the first run
          //    may still be going, and the schedule's own policy is skip).
          let triggered = try await schedules.triggerSchedule(.with {
            $0.scheduleID = "reference-hello-world"
            $0.overlapPolicy = .allowAll
          }, metadata: admin).action
          #expect(triggered.result == .started, "\(triggered)")
          #expect(!triggered.runID.isEmpty)

          // Both runs were started by the scheduler's service account and complete; read
          // through the gateway.
          for runID in [scheduledRun, triggered.runID] where !runID.isEmpty {
            var run = Maestro_Workflow_V1_Run()
            let completed = await GatewayFrontDoorTests.eventually(within: .seconds(60)) {
              run = (try? await runs.getRun(.with { $0.runID = runID }, metadata: admin).run) ?? run
              return run.status == .completed
            }
            #expect(completed, "run \(runID) of hello-world did not complete: \(run.status)")
            #expect(run.workflowName == "hello-world")
            #expect(run.labels["maestro.schedule-id"] == "reference-hello-world")
            #expect(run.tenant == "default")
          }

          // The scheduler follows its runs to their end.
          let followed = await GatewayFrontDoorTests.eventually(within: .seconds(60)) {
            let actions = (try? await schedules.getSchedule(.with { $0.scheduleID = "reference-hello-world" }, metadata: admin).schedule.state.recentActions) ?? []
            return actions.filter { $0.runStatus == "RUN_STATUS_COMPLETED" }.count >= 2
          }
          #expect(followed, "the scheduler did not record both runs as completed:\n\(scheduler.output.suffix(3000))")
        }
      }
      #expect(!scheduler.output.contains(#""level":"error""#), "\(scheduler.output.suffix(3000))")
      for process in [scheduler, gateway, workflow] {
        #expect(try await process.stop(signal: SIGTERM, timeout: .seconds(15)) == 0, "\(process.name) did not drain:\n\(process.output.suffix(2000))")
      }
    }
  }

  /// Waits for the schedule's fire at `fireTime` and returns its run id.
  static func firedRun(
    _ schedules: Maestro_Scheduler_V1_SchedulerService.Client<HTTP2ClientTransport.Posix>, admin: Metadata, fireTime: Date, scheduler: ServiceProcess
  ) async throws -> String {
    var action: Maestro_Scheduler_V1_ScheduleAction?
    let fired = await GatewayFrontDoorTests.eventually(within: .seconds(60)) {
      let actions = (try? await schedules.getSchedule(.with { $0.scheduleID = "reference-hello-world" }, metadata: admin).schedule.state.recentActions) ?? []
      action = actions.first { abs($0.fireTime.date.timeIntervalSince(fireTime)) < 0.001 && !$0.runID.isEmpty }
      return action != nil
    }
    try #require(fired, "reference-hello-world did not fire for \(fireTime):\n\(scheduler.output.suffix(3000))")
    let started = try #require(action)
    #expect(started.result == .started, "\(started)")
    #expect(started.trigger == .scheduled || started.trigger == .catchup, "\(started)")
    return started.runID
  }
}
