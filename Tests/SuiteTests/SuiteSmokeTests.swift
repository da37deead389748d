import AsyncHTTPClient
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import MaestroKit
import MaestroProtos
import MaestroTestSupport
import NIOCore
import Testing

/// The five built executables, started as real processes against a real (per-test) database.
@Suite("Suite smoke test (processes + real Postgres)")
struct SuiteSmokeTests {
  /// `(executable, schema)` of each service.
  static let services = [
    ("migration-service", "migration"),
    ("auth-gateway", "auth"),
    ("workflow-service", "workflow"),
    ("scheduler", "scheduler"),
    ("metrics-service", "metrics"),
  ]

  /// Runs `migration-service migrate` as a process against `db`.
  static func migrate(_ db: TestDatabase) async throws -> String {
    let migrate = try ServiceProcess(
      name: "migration-service",
      arguments: ["migrate"],
      environment: [
        "MAESTRO_ADMIN_DATABASE_URL": db.adminURL,
        "MAESTRO_MIGRATIONS_DIR": TestEnvironment.servicesRoot,
        "MAESTRO_ROLE_PREFIX": db.rolePrefix,
      ]
    )
    let status = try await migrate.waitForExit(timeout: .seconds(120))
    #expect(status == 0, "migrate failed:\n\(migrate.output)")
    return migrate.output
  }

  static func start(_ name: String, schema: String, db: TestDatabase, jwksFile: String) throws -> ServiceProcess {
    var arguments = ["serve", "--host", "127.0.0.1", "--grpc-port", "0", "--admin-port", "0"]
    if name == "auth-gateway" { arguments += ["--rest-port", "0"] }
    return try ServiceProcess(
      name: name,
      arguments: arguments,
      environment: [
        "MAESTRO_DATABASE_URL": db.serviceURL(schema: schema),
        "MAESTRO_JWKS_FILE": jwksFile,
        "MAESTRO_MIGRATIONS_DIR": TestEnvironment.servicesRoot,
        "MAESTRO_LOG_FORMAT": "json",
        "MAESTRO_LOG_LEVEL": "info",
      ].merging(name == "auth-gateway" ? Self.gatewaySecrets : [:]) { $1 }
    )
  }

  /// The gateway needs a master key; its bootstrap secrets go to a temporary folder.
  static let gatewaySecrets: [String: String] = {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("maestro-smoke-\(UUID().uuidString)").path
    return [
      "MAESTRO_MASTER_KEY": Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString(),
      "MAESTRO_BOOTSTRAP_ADMIN_PASSWORD_FILE": directory + "/bootstrap-admin.password",
      "MAESTRO_BOOTSTRAP_SECRETS_DIR": directory + "/secrets",
    ]
  }()

  static func get(_ url: String) async throws -> (status: Int, body: String) {
    let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(5))
    let body = try await response.body.collect(upTo: 4 << 20)
    return (Int(response.status.code), String(buffer: body))
  }

  @Test("migrate, start all five, every one SERVING with /metrics, then SIGTERM exits 0")
  func suite() async throws {
    try await TestDatabase.with { db in
      let migrated = try await Self.migrate(db)
      #expect(migrated.contains("migrations: applied"))

      let issuer = try await TestTokenIssuer.make()
      try await issuer.withJWKSFile { jwksFile in
        let processes = try Self.services.map { try Self.start($0.0, schema: $0.1, db: db, jwksFile: jwksFile) }
        var grpcPorts: [String: Int] = [:]
        for process in processes {
          let grpcPort = try await process.port("grpc_port")
          let adminPort = try await process.port("admin_port")
          grpcPorts[process.name] = grpcPort

          // A generous deadline: the whole test suite runs in parallel with these five processes.
          let status = try await HealthProbe.check(target: "127.0.0.1:\(grpcPort)", timeout: .seconds(30))
          #expect(status == .serving, "\(process.name)")

          let metrics = try await Self.get("http://127.0.0.1:\(adminPort)/metrics")
          #expect(metrics.status == 200)
          #expect(metrics.body.contains(#"maestro_grpc_requests_total{service="\#(process.name)",method="grpc.health.v1.Health/Check",code="ok"}"#), "\(process.name)")
          #expect(try await Self.get("http://127.0.0.1:\(adminPort)/readyz").status == 200, "\(process.name)")
          #expect(try await Self.get("http://127.0.0.1:\(adminPort)/healthz").status == 200, "\(process.name)")
        }

        let gateway = try #require(processes.first { $0.name == "auth-gateway" })
        let restPort = try await gateway.port("rest_port")
        let rest = try await Self.get("http://127.0.0.1:\(restPort)/healthz")
        #expect(rest.status == 200)
        #expect(rest.body == #"{"status":"SERVING"}"#)

        try await Self.checkMigrationStatus(port: try #require(grpcPorts["migration-service"]), issuer: issuer)

        for process in processes {
          let status = try await process.stop(signal: SIGTERM, timeout: .seconds(10))
          #expect(status == 0, "\(process.name) did not exit 0 within 10 s of SIGTERM:\n\(process.output)")
          #expect(process.output.contains("draining: health NOT_SERVING"), "\(process.name)")
        }
      }
    }
  }

  /// migration-service's GetStatus over real gRPC: authenticated, authorised by role.
  static func checkMigrationStatus(port: Int, issuer: TestTokenIssuer) async throws {
    try await withGRPCClient(
      transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
    ) { client in
      let migrations = Maestro_Migration_V1_MigrationService.Client(wrapping: client)

      let anonymous = await #expect(throws: RPCError.self) { try await migrations.getStatus(.init()) }
      #expect(anonymous?.code == .unauthenticated)

      let viewer = try await issuer.sign(TestTokenIssuer.claims(roles: ["viewer"]))
      let denied = await #expect(throws: RPCError.self) {
        try await migrations.getStatus(.init(), metadata: ["authorization": "Bearer \(viewer)"])
      }
      #expect(denied?.code == .permissionDenied)

      let operatorToken = try await issuer.sign(TestTokenIssuer.claims(roles: ["platform-operator"]))
      let status = try await migrations.getStatus(.init(), metadata: ["authorization": "Bearer \(operatorToken)"])
      #expect(status.services.map(\.service) == Self.services.map(\.0))
      for service in status.services {
        #expect(service.currentVersion >= 1, "\(service.service)")
        #expect(service.pending.isEmpty, "\(service.service)")
        #expect(service.drift.isEmpty, "\(service.service)")
        #expect(service.applied.allSatisfy { $0.checksum.count == 64 && !$0.checksumMismatch })
      }

      let unknown = await #expect(throws: RPCError.self) {
        try await migrations.getStatus(.with { $0.service = "nope" }, metadata: ["authorization": "Bearer \(operatorToken)"])
      }
      #expect(unknown?.code == .invalidArgument)
    }
  }

  @Test("a service started before migrations exits 1 and says to run migrate")
  func unmigratedDatabase() async throws {
    try await TestDatabase.with { db in
      // The role does not exist yet either; use the superuser so the failure is the schema check.
      var url = URLComponents(string: db.adminURL)!
      url.query = "sslmode=disable"
      let process = try ServiceProcess(
        name: "workflow-service",
        arguments: ["serve", "--grpc-port", "0", "--admin-port", "0", "--log-format", "text", "--database-url", url.string!],
        environment: [:]
      )
      let status = try await process.waitForExit(timeout: .seconds(30))
      #expect(status == 1)
      #expect(process.output.contains("schema 'workflow' is not migrated: run `migration-service migrate` first"), "\(process.output)")
    }
  }

  @Test("bad configuration exits 2 naming the setting")
  func badConfiguration() async throws {
    let process = try ServiceProcess(name: "scheduler", arguments: ["serve"], environment: ["MAESTRO_GRPC_PORT": "lots"])
    #expect(try await process.waitForExit(timeout: .seconds(30)) == 2)
    #expect(process.output.contains("MAESTRO_GRPC_PORT"))
  }
}
