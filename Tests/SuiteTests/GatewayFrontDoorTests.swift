import AsyncHTTPClient
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import MaestroKit
import MaestroProtos
import MaestroTestSupport
import NIOCore
import SwiftProtobuf
import Testing

/// auth-gateway in front of the real backends (processes, real Postgres): every call goes
/// through the gateway's gRPC or REST port and is forwarded to workflow-service,
/// migration-service (two replicas), scheduler and metrics-service.
@Suite("auth-gateway front door: forwarding to the real backends over gRPC and REST")
struct GatewayFrontDoorTests {
  static let adminPassword = "front door admin password"

  /// The running suite and tokens for a few roles.
  struct Suite: Sendable {
    let gateway: ServiceProcess
    let workflow: ServiceProcess
    let migrations: [ServiceProcess]
    let migrationPorts: [Int]
    let migrationAdminPorts: [Int]
    let grpcPort: Int
    let restPort: Int
    let admin: String
    let viewer: String
    let analyst: String
    let runOperator: String
    let platformOperator: String
    let otherTenantOperator: String
    let db: TestDatabase

    var rest: String { "http://127.0.0.1:\(self.restPort)" }
  }

  static func backendEnvironment(_ db: TestDatabase, schema: String, jwksFile: String) -> [String: String] {
    [
      "MAESTRO_DATABASE_URL": db.serviceURL(schema: schema),
      "MAESTRO_JWKS_FILE": jwksFile,
      "MAESTRO_MIGRATIONS_DIR": TestEnvironment.servicesRoot,
      "MAESTRO_LOG_FORMAT": "json",
      "MAESTRO_LOG_LEVEL": "debug",
    ]
  }

  static func startMigrationService(_ db: TestDatabase, jwksFile: String, port: Int = 0) throws -> ServiceProcess {
    try ServiceProcess(
      name: "migration-service",
      arguments: ["serve", "--host", "127.0.0.1", "--grpc-port", "\(port)", "--admin-port", "0"],
      environment: Self.backendEnvironment(db, schema: "migration", jwksFile: jwksFile)
    )
  }

  /// Migrates, starts the backends, then the gateway pointing at them, and mints tokens.
  static func withSuite(gatewayEnvironment: [String: String] = [:], _ body: (Suite) async throws -> Void) async throws {
    try await TestDatabase.with { db in
      _ = try await SuiteSmokeTests.migrate(db)
      let directory = FileManager.default.temporaryDirectory.appendingPathComponent("maestro-frontdoor-\(UUID().uuidString)").path
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
      defer { try? FileManager.default.removeItem(atPath: directory) }
      // Backends read the gateway's JWKS from this file; it is filled once the gateway is up
      // (they fetch it lazily, on the first token they verify).
      let jwksFile = directory + "/jwks.json"
      try #"{"keys":[]}"#.write(toFile: jwksFile, atomically: true, encoding: .utf8)

      var workflowEnvironment = Self.backendEnvironment(db, schema: "workflow", jwksFile: jwksFile)
      workflowEnvironment["MAESTRO_WORKFLOWS_DIR"] = TestEnvironment.servicesRoot + "/workflow-service/workflows"
      workflowEnvironment["MAESTRO_REFERENCE_TENANT"] = "default"
      let workflow = try ServiceProcess(name: "workflow-service", arguments: ["serve", "--host", "127.0.0.1", "--grpc-port", "0", "--admin-port", "0"], environment: workflowEnvironment)
      let migrations = try (0..<2).map { _ in try Self.startMigrationService(db, jwksFile: jwksFile) }
      let scheduler = try ServiceProcess(name: "scheduler", arguments: ["serve", "--host", "127.0.0.1", "--grpc-port", "0", "--admin-port", "0"], environment: Self.backendEnvironment(db, schema: "scheduler", jwksFile: jwksFile))
      let metrics = try ServiceProcess(name: "metrics-service", arguments: ["serve", "--host", "127.0.0.1", "--grpc-port", "0", "--admin-port", "0"], environment: Self.backendEnvironment(db, schema: "metrics", jwksFile: jwksFile))
      let workflowPort = try await workflow.port("grpc_port")
      var migrationPorts: [Int] = []
      var migrationAdminPorts: [Int] = []
      for process in migrations {
        migrationPorts.append(try await process.port("grpc_port"))
        migrationAdminPorts.append(try await process.port("admin_port"))
      }
      let schedulerPort = try await scheduler.port("grpc_port")
      let metricsPort = try await metrics.port("grpc_port")

      var environment: [String: String] = [
        "MAESTRO_DATABASE_URL": db.serviceURL(schema: "auth"),
        "MAESTRO_MASTER_KEY": Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString(),
        "MAESTRO_BOOTSTRAP_ADMIN_PASSWORD": Self.adminPassword,
        "MAESTRO_BOOTSTRAP_ADMIN_PASSWORD_FILE": directory + "/admin.password",
        "MAESTRO_BOOTSTRAP_SECRETS_DIR": directory + "/secrets",
        "MAESTRO_LOG_FORMAT": "json",
        "MAESTRO_WORKFLOW_SERVICE_ADDRESS": "127.0.0.1:\(workflowPort)",
        "MAESTRO_MIGRATION_SERVICE_ADDRESS": migrationPorts.map { "127.0.0.1:\($0)" }.joined(separator: ","),
        "MAESTRO_SCHEDULER_ADDRESS": "127.0.0.1:\(schedulerPort)",
        "MAESTRO_METRICS_SERVICE_ADDRESS": "127.0.0.1:\(metricsPort)",
        "MAESTRO_MAX_BODY_BYTES": "16384",
        "MAESTRO_RATE_LIMIT_ROLES": "analyst=0.2:2,admin=1000:2000,platform-operator=1000:2000",
      ]
      environment.merge(gatewayEnvironment) { $1 }
      let gateway = try ServiceProcess(
        name: "auth-gateway",
        arguments: ["serve", "--host", "127.0.0.1", "--grpc-port", "0", "--admin-port", "0", "--rest-port", "0"],
        environment: environment
      )
      let grpcPort = try await gateway.port("grpc_port")
      let restPort = try await gateway.port("rest_port")
      let serving = await Self.eventually(within: .seconds(60)) {
        (try? await HealthProbe.check(target: "127.0.0.1:\(grpcPort)", service: "", timeout: .seconds(1))) == .serving
      }
      try #require(serving, "the gateway did not become SERVING:\n\(gateway.output)")
      let jwks = try await Self.request("http://127.0.0.1:\(restPort)/.well-known/jwks.json")
      try jwks.body.write(toFile: jwksFile, atomically: true, encoding: .utf8)

      let rest = "http://127.0.0.1:\(restPort)"
      let admin = try await Self.passwordToken(rest: rest)
      let tenant = try await Self.request(rest + "/v1/tenants", method: "POST", token: admin, body: #"{"id":"other","displayName":"Other"}"#)
      try #require(tenant.status == 200, "\(tenant.body)")
      let suite = Suite(
        gateway: gateway, workflow: workflow, migrations: migrations, migrationPorts: migrationPorts, migrationAdminPorts: migrationAdminPorts,
        grpcPort: grpcPort, restPort: restPort, admin: admin,
        viewer: try await Self.serviceAccountToken(rest: rest, admin: admin, name: "viewer", role: "ROLE_VIEWER"),
        analyst: try await Self.serviceAccountToken(rest: rest, admin: admin, name: "analyst", role: "ROLE_ANALYST"),
        runOperator: try await Self.serviceAccountToken(rest: rest, admin: admin, name: "operator", role: "ROLE_WORKFLOW_OPERATOR"),
        platformOperator: try await Self.serviceAccountToken(rest: rest, admin: admin, name: "platform", role: "ROLE_PLATFORM_OPERATOR"),
        otherTenantOperator: try await Self.serviceAccountToken(rest: rest, admin: admin, name: "operator", role: "ROLE_WORKFLOW_OPERATOR", tenant: "other"),
        db: db
      )
      try await body(suite)
      for process in [gateway, workflow, scheduler, metrics] + migrations where process.isRunning {
        #expect(try await process.stop(signal: SIGTERM, timeout: .seconds(15)) == 0, "\(process.name) did not drain:\n\(process.output.suffix(2000))")
      }
    }
  }

  static func eventually(within timeout: Duration, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
      if try await condition() { return true }
      try? await Task.sleep(for: .milliseconds(100))
    }
    return false
  }

  struct HTTPResult: Sendable {
    var status: Int
    var headers: [String: String]
    var body: String
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(self.body.utf8)) as? [String: Any]) ?? [:] }
    var error: [String: Any] { self.json["error"] as? [String: Any] ?? [:] }
  }

  static func request(
    _ url: String, method: String = "GET", token: String? = nil, body: String? = nil,
    contentType: String = "application/json", headers extra: [(String, String)] = []
  ) async throws -> HTTPResult {
    var request = HTTPClientRequest(url: url)
    request.method = .init(rawValue: method)
    if let token { request.headers.add(name: "authorization", value: "Bearer \(token)") }
    for (name, value) in extra { request.headers.add(name: name, value: value) }
    if let body {
      request.headers.add(name: "content-type", value: contentType)
      request.body = .bytes(ByteBuffer(string: body))
    }
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
    let collected = try await response.body.collect(upTo: 8 << 20)
    var headers: [String: String] = [:]
    for header in response.headers { headers[header.name.lowercased()] = header.value }
    return HTTPResult(status: Int(response.status.code), headers: headers, body: String(buffer: collected))
  }

  static func passwordToken(rest: String) async throws -> String {
    let body = "grant_type=password&username=admin&password=\(Self.adminPassword.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)"
    let response = try await Self.request(rest + "/v1/auth/token", method: "POST", body: body, contentType: "application/x-www-form-urlencoded")
    return try #require(response.json["access_token"] as? String, "\(response.body)")
  }

  static func serviceAccountToken(rest: String, admin: String, name: String, role: String, tenant: String = "default") async throws -> String {
    let created = try await Self.request(
      rest + "/v1/service-accounts", method: "POST", token: admin,
      body: #"{"serviceAccount":{"name":"\#(name)"},"roles":["\#(role)"]}"#, headers: [("x-maestro-tenant", tenant)]
    )
    try #require(created.status == 200, "\(created.body)")
    let account = try #require(created.json["serviceAccount"] as? [String: Any])
    let clientID = try #require(account["clientId"] as? String)
    let secret = try #require(created.json["clientSecret"] as? String)
    let form = "grant_type=client_credentials&client_id=\(clientID)&client_secret=\(secret.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)"
    let token = try await Self.request(rest + "/v1/auth/token", method: "POST", body: form, contentType: "application/x-www-form-urlencoded")
    return try #require(token.json["access_token"] as? String, "\(token.body)")
  }

  static func withGateway<Result: Sendable>(_ suite: Suite, _ body: (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> Result) async throws -> Result {
    try await withGRPCClient(
      transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: suite.grpcPort), transportSecurity: .plaintext)
    ) { client in try await body(client) }
  }

  static func bearer(_ token: String) -> Metadata { ["authorization": .string("Bearer \(token)")] }

  @Test("gRPC through the gateway: roles, tenants, tokens, streams, request ids, every backend, replicas")
  func grpc() async throws {
    try await Self.withSuite { suite in
      try await Self.withGateway(suite) { client in
        let workflows = Maestro_Workflow_V1_WorkflowService.Client(wrapping: client)
        // Allowed (viewer reads), denied (viewer starts), no token, bad token.
        let workflow = try await workflows.getWorkflow(.with { $0.name = "hello-world" }, metadata: Self.bearer(suite.viewer)).workflow
        #expect(workflow.definition.name == "hello-world")
        let denied = await #expect(throws: RPCError.self) { try await workflows.startRun(.with { $0.workflowName = "hello-world" }, metadata: Self.bearer(suite.viewer)) }
        #expect(denied?.code == .permissionDenied)
        let anonymous = await #expect(throws: RPCError.self) { try await workflows.getWorkflow(.with { $0.name = "hello-world" }) }
        #expect(anonymous?.code == .unauthenticated)
        let forged = await #expect(throws: RPCError.self) { try await workflows.getWorkflow(.with { $0.name = "hello-world" }, metadata: Self.bearer(suite.viewer + "x")) }
        #expect(forged?.code == .unauthenticated)

        // A run, watched live through the gateway (a server stream).
        let run = try await workflows.startRun(.with { $0.workflowName = "hello-world"; $0.idempotencyKey = "grpc-1" }, metadata: Self.bearer(suite.runOperator)).run
        let types = try await workflows.watchRun(.with { $0.runID = run.id }, metadata: Self.bearer(suite.runOperator)) { response in
          var types: [Maestro_Workflow_V1_RunEventType] = []
          for try await message in response.messages { types.append(message.event.type) }
          return types
        }
        #expect(types.first == .runStarted || types.first == .runCreated, "\(types)")
        #expect(types.last == .runCompleted, "\(types)")
        // Another tenant's run does not exist for them.
        let hidden = await #expect(throws: RPCError.self) { try await workflows.getRun(.with { $0.runID = run.id }, metadata: Self.bearer(suite.otherTenantOperator)) }
        #expect(hidden?.code == .notFound)
        // Naming another tenant needs admin.
        var crossTenant = Self.bearer(suite.runOperator)
        crossTenant.addString("other", forKey: "x-maestro-tenant")
        let refused = await #expect(throws: RPCError.self) { try await workflows.getRun(.with { $0.runID = run.id }, metadata: crossTenant) }
        #expect(refused?.code == .permissionDenied)

        // The request id reaches the backend (its debug log of the rejected call carries it).
        var traced = Self.bearer(suite.runOperator)
        traced.addString("frontdoor-rid-7", forKey: "x-request-id")
        let invalid = await #expect(throws: RPCError.self) { try await workflows.getRun(.with { $0.runID = "not-a-run-id" }, metadata: traced) }
        #expect(invalid?.code == .invalidArgument || invalid?.code == .notFound)
        #expect(invalid?.metadata[stringValues: "x-request-id"].first { _ in true } == "frontdoor-rid-7")
        #expect(await Self.eventually(within: .seconds(5)) { suite.workflow.output.contains("frontdoor-rid-7") }, "the backend never saw the request id")

        // migration-service: allowed for platform-operator only, spread over both replicas.
        let migrations = Maestro_Migration_V1_MigrationService.Client(wrapping: client)
        let viewerStatus = await #expect(throws: RPCError.self) { try await migrations.getStatus(.init(), metadata: Self.bearer(suite.viewer)) }
        #expect(viewerStatus?.code == .permissionDenied)
        for _ in 0..<20 {
          let status = try await migrations.getStatus(.init(), metadata: Self.bearer(suite.platformOperator))
          #expect(status.services.contains { $0.service == "workflow-service" })
        }
        for adminPort in suite.migrationAdminPorts {
          let metrics = try await Self.request("http://127.0.0.1:\(adminPort)/metrics")
          #expect(metrics.body.contains(#"method="maestro.migration.v1.MigrationService/GetStatus",code="ok"}"#), "a replica got no GetStatus calls")
        }

        // scheduler and metrics-service: forwarded (answered by the backend, whatever it implements yet).
        let scheduler = Maestro_Scheduler_V1_SchedulerService.Client(wrapping: client)
        let metricsService = Maestro_Metrics_V1_MetricsService.Client(wrapping: client)
        for call in [
          { try await _ = scheduler.listSchedules(.init(), metadata: Self.bearer(suite.admin)) },
          { try await _ = metricsService.listSLOs(.init(), metadata: Self.bearer(suite.admin)) },
        ] as [@Sendable () async throws -> Void] {
          do {
            try await call()
          } catch let error as RPCError {
            #expect(error.code == .unimplemented, "\(error)")
          }
        }
      }
    }
  }

  @Test("REST through the gateway: resources, YAML, errors with field paths, limits, SSE, OpenAPI")
  func rest() async throws {
    try await Self.withSuite { suite in
      let rest = suite.rest
      // Read: 200 with canonical JSON; anonymous 401; unknown route 404, all in the envelope.
      let workflow = try await Self.request(rest + "/v1/workflows/hello-world", token: suite.viewer)
      #expect(workflow.status == 200, "\(workflow.body)")
      #expect(((workflow.json["workflow"] as? [String: Any])?["definition"] as? [String: Any])?["name"] as? String == "hello-world")
      #expect(workflow.headers["x-request-id"] != nil)
      let anonymous = try await Self.request(rest + "/v1/workflows/hello-world")
      #expect(anonymous.status == 401)
      #expect(anonymous.error["code"] as? String == "UNAUTHENTICATED")
      #expect(anonymous.error["details"] is [Any])
      #expect(try await Self.request(rest + "/v1/nothing-here", token: suite.viewer).error["code"] as? String == "NOT_FOUND")

      // Start a run with the issue's body; the viewer may not.
      let start = #"{"workflow":"hello-world","input":{"who":"rest"},"idempotency_key":"rest-1"}"#
      #expect(try await Self.request(rest + "/v1/runs", method: "POST", token: suite.viewer, body: start).status == 403)
      let started = try await Self.request(rest + "/v1/runs", method: "POST", token: suite.runOperator, body: start)
      #expect(started.status == 200, "\(started.body)")
      let runID = try #require((started.json["run"] as? [String: Any])?["id"] as? String)

      // Live events as Server-Sent Events, until the run completes.
      let events = try await Self.request(rest + "/v1/runs/\(runID)/events", token: suite.runOperator)
      #expect(events.status == 200)
      #expect(events.headers["content-type"] == "text/event-stream")
      #expect(events.body.contains("RUN_EVENT_TYPE_RUN_COMPLETED"), "\(events.body)")
      #expect(events.body.contains("id: 1\n"))
      #expect(events.body.hasSuffix("event: end\ndata: {}\n\n"))
      let resumed = try await Self.request(rest + "/v1/runs/\(runID)/events", token: suite.runOperator, headers: [("last-event-id", "2")])
      #expect(!resumed.body.contains("id: 1\n") && !resumed.body.contains("id: 2\n") && resumed.body.contains("id: 3\n"))

      let run = try await Self.request(rest + "/v1/runs/\(runID)", token: suite.viewer)
      #expect((run.json["run"] as? [String: Any])?["status"] as? String == "RUN_STATUS_COMPLETED", "\(run.body)")
      let listed = try await Self.request(rest + "/v1/runs?status=COMPLETED&workflow=hello-world&page_size=10", token: suite.viewer)
      #expect(listed.status == 200, "\(listed.body)")
      #expect(((listed.json["runs"] as? [[String: Any]]) ?? []).contains { $0["id"] as? String == runID })
      // Another tenant: NOT_FOUND, in the envelope.
      let hidden = try await Self.request(rest + "/v1/runs/\(runID)", token: suite.otherTenantOperator)
      #expect(hidden.status == 404)
      #expect(hidden.error["code"] as? String == "NOT_FOUND")
      #expect(try await Self.request(rest + "/v1/runs/\(runID)/events", token: suite.otherTenantOperator).status == 404)
      // Custom methods reach the backend (the run is finished: cancel is refused by it, not by the gateway).
      let cancel = try await Self.request(rest + "/v1/runs/\(runID):cancel", method: "POST", token: suite.runOperator, body: #"{"reason":"test"}"#)
      #expect(cancel.status != 404 && cancel.status != 401 && cancel.status != 403, "\(cancel.body)")

      // Malformed bodies: unknown field, wrong type (by the caller's name), not JSON, not an object.
      let unknown = try await Self.request(rest + "/v1/runs", method: "POST", token: suite.runOperator, body: #"{"workflow":"hello-world","bogus":1}"#)
      #expect(unknown.status == 400)
      #expect(unknown.error["field"] as? String == "bogus", "\(unknown.body)")
      let wrongType = try await Self.request(rest + "/v1/runs", method: "POST", token: suite.runOperator, body: #"{"workflow":"hello-world","version":"latest"}"#)
      #expect(wrongType.status == 400)
      #expect(wrongType.error["field"] as? String == "version", "\(wrongType.body)")
      let nested = try await Self.request(rest + "/v1/runs/\(runID):signal", method: "POST", token: suite.runOperator, body: #"{"signal_name":"go","payload":7}"#)
      #expect(nested.error["field"] as? String == "payload", "\(nested.body)")
      #expect(try await Self.request(rest + "/v1/runs", method: "POST", token: suite.runOperator, body: "{not json").status == 400)
      #expect(try await Self.request(rest + "/v1/runs", method: "POST", token: suite.runOperator, body: "[1]").status == 400)
      let badQuery = try await Self.request(rest + "/v1/runs?page_size=many", token: suite.viewer)
      #expect(badQuery.status == 400)
      #expect(badQuery.error["field"] as? String == "page_size", "\(badQuery.body)")
      // Oversized body: 413.
      let huge = #"{"workflow":"hello-world","input":{"blob":""# + String(repeating: "x", count: 20_000) + #""}}"#
      let oversized = try await Self.request(rest + "/v1/runs", method: "POST", token: suite.runOperator, body: huge)
      #expect(oversized.status == 413, "\(oversized.body)")
      #expect(oversized.error["code"] as? String == "RESOURCE_EXHAUSTED")
      // Path and header limits.
      #expect(try await Self.request(rest + "/v1/runs/" + String(repeating: "a", count: 3000), token: suite.viewer).status == 414)
      #expect(try await Self.request(rest + "/v1/runs", token: suite.viewer, headers: [("x-padding", String(repeating: "p", count: 17_000))]).status == 431)

      // A workflow definition posted as YAML, then read back.
      let yaml = try String(contentsOfFile: TestEnvironment.servicesRoot + "/workflow-service/workflows/reference/hello-world.yaml", encoding: .utf8)
        .replacingOccurrences(of: "name: hello-world", with: "name: hello-yaml")
      let registered = try await Self.request(rest + "/v1/workflows", method: "POST", token: suite.admin, body: yaml, contentType: "application/yaml")
      #expect(registered.status == 200, "\(registered.body)")
      let readBack = try await Self.request(rest + "/v1/workflows/hello-yaml", token: suite.viewer)
      #expect(((readBack.json["workflow"] as? [String: Any])?["definition"] as? [String: Any])?["sla"] as? String == "30s", "\(readBack.body)")
      #expect(try await Self.request(rest + "/v1/runs", method: "POST", token: suite.runOperator, body: "workflow: x", contentType: "application/yaml").status == 400)

      // Migrations and the other backends by REST.
      let status = try await Self.request(rest + "/v1/migrations/status", token: suite.platformOperator)
      #expect(status.status == 200, "\(status.body)")
      #expect(((status.json["services"] as? [[String: Any]]) ?? []).count == 5)
      #expect(try await Self.request(rest + "/v1/migrations/status", token: suite.viewer).status == 403)
      for path in ["/v1/schedules", "/v1/slos", "/v1/alerts"] {
        let response = try await Self.request(rest + path, token: suite.admin)
        #expect(response.status == 200 || response.status == 501, "\(path): \(response.body)")
      }
      // The scheduler through the gateway: create, a spec error naming its field, a DST preview, pause.
      let schedule = #"{"id":"gw-nightly","spec":{"cronExpressions":["30 2 * * *"],"timeZone":"Europe/Berlin"},"target":{"workflowName":"hello-world"}}"#
      let createdSchedule = try await Self.request(rest + "/v1/schedules", method: "POST", token: suite.runOperator, body: schedule)
      #expect(createdSchedule.status == 200, "\(createdSchedule.body)")
      let badSchedule = try await Self.request(
        rest + "/v1/schedules", method: "POST", token: suite.runOperator,
        body: #"{"id":"gw-bad","spec":{"cronExpressions":["61 * * * *"]},"target":{"workflowName":"hello-world"}}"#)
      #expect(badSchedule.status == 400 && badSchedule.body.contains("cron_expressions[0]"), "\(badSchedule.body)")
      let preview = try await Self.request(
        rest + "/v1/schedules:preview", method: "POST", token: suite.viewer, body: #"{"scheduleId":"gw-nightly","after":"2025-03-29T11:00:00Z","count":1}"#)
      #expect(preview.body.contains("2025-03-30T03:00:00+02:00"), "\(preview.body)")
      let pausedSchedule = try await Self.request(rest + "/v1/schedules/gw-nightly:pause", method: "POST", token: suite.runOperator, body: #"{"note":"via the gateway"}"#)
      #expect(pausedSchedule.status == 200 && pausedSchedule.body.contains("via the gateway"), "\(pausedSchedule.body)")
      #expect(try await Self.request(rest + "/v1/runs/\(runID)", method: "PUT", token: suite.viewer, body: "{}").status == 405)

      // Rate limit (analyst: a token every 5 s, burst 2): 429 with Retry-After, then recovery.
      var limited: HTTPResult?
      for _ in 0..<4 {
        let response = try await Self.request(rest + "/v1/workflows", token: suite.analyst)
        if response.status == 429 { limited = response; break }
        #expect(response.status == 200, "\(response.body)")
      }
      #expect(limited?.headers["retry-after"].flatMap { Int($0) }.map { (1...5).contains($0) } == true, "\(String(describing: limited?.headers))")
      #expect(limited?.error["code"] as? String == "RESOURCE_EXHAUSTED")
      #expect(await Self.eventually(within: .seconds(30)) { (try? await Self.request(rest + "/v1/workflows", token: suite.analyst).status) == 200 })

      // Templates: data-processing is installed at startup; VALIDATE_ONLY answers every issue; a template posted as YAML.
      let shipped = try await Self.request(rest + "/v1/templates/data-processing", token: suite.viewer)
      #expect(shipped.status == 200, "\(shipped.body)")
      let checked = try await Self.request(
        rest + "/v1/templates/data-processing:instantiate", method: "POST", token: suite.runOperator,
        body: #"{"mode":"INSTANTIATE_MODE_VALIDATE_ONLY","parameters":{"dataset":"Bad Name","batch_size":0}}"#)
      #expect(checked.status == 200, "\(checked.body)")
      #expect(((checked.json["issues"] as? [[String: Any]]) ?? []).compactMap { $0["path"] as? String }.sorted() == ["parameters.batch_size", "parameters.dataset"])
      let instantiated = try await Self.request(
        rest + "/v1/templates/data-processing:instantiate", method: "POST", token: suite.runOperator,
        body: #"{"parameters":{"dataset":"gw"},"workflow_name":"etl-gw"}"#)
      #expect(((instantiated.json["workflow"] as? [String: Any])?["definition"] as? [String: Any])?["name"] as? String == "etl-gw", "\(instantiated.body)")
      let templateYAML = "name: gw-template\nparameters: [{name: who, type: PARAMETER_TYPE_STRING}]\ndefinition: {name: gw, steps: [{id: a, type: echo, input: {who: \"${params.who}\"}}]}\n"
      let postedTemplate = try await Self.request(rest + "/v1/templates", method: "POST", token: suite.admin, body: templateYAML, contentType: "application/yaml")
      #expect(postedTemplate.status == 200 && postedTemplate.body.contains("gw-template"), "\(postedTemplate.body)")
      let badTemplate = try await Self.request(
        rest + "/v1/templates", method: "POST", token: suite.admin, body: templateYAML.replacingOccurrences(of: "params.who", with: "params.nobody"),
        contentType: "application/yaml")
      #expect(badTemplate.status == 400 && badTemplate.error["field"] as? String == "definition.steps[0].input.who", "\(badTemplate.body)")

      // The OpenAPI document is served.
      let openAPI = try await Self.request(rest + "/openapi.json")
      #expect(openAPI.status == 200)
      #expect((openAPI.json["paths"] as? [String: Any])?["/v1/runs/{id}:cancel"] != nil)
    }
  }

  @Test("a backend that goes down answers UNAVAILABLE / 503 quickly, and the gateway recovers when it returns")
  func outage() async throws {
    try await Self.withSuite { suite in
      let rest = suite.rest
      // One replica down: the other serves every call.
      #expect(try await suite.migrations[0].stop(signal: SIGTERM, timeout: .seconds(15)) == 0)
      for _ in 0..<5 {
        #expect(try await Self.request(rest + "/v1/migrations/status", token: suite.platformOperator).status == 200)
      }
      // Both down: 503 fast, over REST and gRPC.
      #expect(try await suite.migrations[1].stop(signal: SIGTERM, timeout: .seconds(15)) == 0)
      let started = ContinuousClock.now
      let down = try await Self.request(rest + "/v1/migrations/status", token: suite.platformOperator)
      #expect(down.status == 503, "\(down.body)")
      #expect(down.error["code"] as? String == "UNAVAILABLE")
      #expect(ContinuousClock.now - started < .seconds(15), "503 should not wait for the 60 s REST deadline")
      try await Self.withGateway(suite) { client in
        let migrations = Maestro_Migration_V1_MigrationService.Client(wrapping: client)
        var options = CallOptions.defaults
        options.timeout = .seconds(60)
        let grpcStarted = ContinuousClock.now
        let error = await #expect(throws: RPCError.self) { try await migrations.getStatus(.init(), metadata: Self.bearer(suite.platformOperator), options: options) }
        #expect(error?.code == .unavailable)
        #expect(ContinuousClock.now - grpcStarted < .seconds(15), "UNAVAILABLE should not wait for the caller's 60 s deadline")
      }
      // Back on its port: the gateway uses it again by itself.
      let jwks = try await Self.request(rest + "/.well-known/jwks.json")
      let file = FileManager.default.temporaryDirectory.appendingPathComponent("jwks-\(UUID().uuidString).json").path
      try jwks.body.write(toFile: file, atomically: true, encoding: .utf8)
      defer { try? FileManager.default.removeItem(atPath: file) }
      let revived = try Self.startMigrationService(suite.db, jwksFile: file, port: suite.migrationPorts[1])
      _ = try await revived.port("grpc_port")
      #expect(await Self.eventually(within: .seconds(15)) {
        (try? await Self.request(rest + "/v1/migrations/status", token: suite.platformOperator).status) == 200
      }, "the gateway did not recover:\n\(suite.gateway.output.suffix(3000))")
      #expect(try await revived.stop(signal: SIGTERM, timeout: .seconds(15)) == 0)
    }
  }

  @Test("a Python grpcio client generated from protos/ calls the gateway's gRPC port")
  func pythonInterop() async throws {
    try await Self.withSuite { suite in
      let python = ProcessInfo.processInfo.environment["MAESTRO_TEST_PYTHON"] ?? "python3"
      let output = FileManager.default.temporaryDirectory.appendingPathComponent("maestro-interop-\(UUID().uuidString)").path
      defer { try? FileManager.default.removeItem(atPath: output) }
      let process = Process()
      process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
      process.arguments = [
        python, TestEnvironment.repositoryRoot + "/Tests/Interop/gateway_client.py",
        "--protos", TestEnvironment.repositoryRoot + "/protos", "--out", output,
        "--target", "127.0.0.1:\(suite.grpcPort)",
        "--operator-token", suite.runOperator, "--viewer-token", suite.viewer, "--platform-token", suite.platformOperator,
      ]
      let pipe = Pipe()
      process.standardOutput = pipe
      process.standardError = pipe
      try process.run()
      let data = pipe.fileHandleForReading.readDataToEndOfFile()
      process.waitUntilExit()
      let text = String(decoding: data, as: UTF8.self)
      #expect(process.terminationStatus == 0, "\(text)")
      #expect(text.contains("interop: ok"), "\(text)")
    }
  }

  @Test("workers on both sides of the public worker API: a Python grpcio worker and the Swift reference worker work a run's tasks through the gateway")
  func workersThroughTheGateway() async throws {
    try await Self.withSuite { suite in
      try await Self.withGateway(suite) { client in
        let workflows = Maestro_Workflow_V1_WorkflowService.Client(wrapping: client)
        let definition = try Maestro_Workflow_V1_WorkflowDefinition(jsonString: """
          {"name": "two-workers", "parameters": [{"name": "text", "type": "PARAMETER_TYPE_STRING", "required": true}],
           "steps": [
             {"id": "reverse", "type": "task", "taskQueue": "demo.py-reverse", "input": {"text": "${input.text}"}},
             {"id": "shout", "type": "task", "taskQueue": "demo.uppercase", "dependsOn": ["reverse"], "input": {"text": "${steps.reverse.output.text}"}}],
           "output": {"text": "${steps.shout.output.text}", "by": "${steps.reverse.output.worker}"}}
          """)
        _ = try await workflows.registerWorkflow(.with { $0.definition = definition }, metadata: Self.bearer(suite.admin))
        let run = try await workflows.startRun(
          .with {
            $0.workflowName = "two-workers"
            $0.input = Google_Protobuf_Struct(fields: ["text": Google_Protobuf_Value(stringValue: "maestro")])
          },
          metadata: Self.bearer(suite.runOperator)
        ).run

        let python = ProcessInfo.processInfo.environment["MAESTRO_TEST_PYTHON"] ?? "python3"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
          python, TestEnvironment.repositoryRoot + "/examples/python-worker/worker.py", "--target", "127.0.0.1:\(suite.grpcPort)",
          "--token", suite.runOperator, "--once", "--wait", "20",
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(text.contains("worker: ok"), "\(text)")

        let worker = try ServiceProcess(
          name: "workflow-service",
          arguments: ["worker", "--target", "127.0.0.1:\(suite.grpcPort)", "--token", suite.runOperator, "--queues", "demo.uppercase", "--concurrency", "2"],
          environment: [:]
        )
        var finished = Maestro_Workflow_V1_Run()
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
          finished = try await workflows.getRun(.with { $0.runID = run.id }, metadata: Self.bearer(suite.runOperator)).run
          if finished.status == .completed || finished.status == .failed { break }
          try await Task.sleep(for: .milliseconds(100))
        }
        #expect(finished.status == .completed, "\(worker.output.suffix(2000))")
        #expect(finished.output.fields["text"]?.stringValue == "ORTSEAM")
        #expect(finished.output.fields["by"]?.stringValue == "python")
        #expect(try await worker.stop(signal: SIGTERM, timeout: .seconds(15)) == 0, "the worker stops cleanly on SIGTERM")
      }
    }
  }
}
