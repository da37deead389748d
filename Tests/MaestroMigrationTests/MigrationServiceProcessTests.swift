import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import MaestroCore
import MaestroMigration
import MaestroProtos
import MaestroTestSupport
import SwiftProtobuf
import Testing

@Suite("migration-service RPCs over real gRPC (process + real Postgres)")
struct MigrationServiceProcessTests {
  @Test("Apply and Rollback are allowed to platform-operator and admin only", arguments: Role.allCases)
  func applyPermission(role: Role) {
    let principal = Principal(subject: "u", tenant: "acme", roles: [role])
    for method in ["Apply", "Rollback"] {
      let decision = AccessPolicy.maestro.decide(method: "maestro.migration.v1.MigrationService/\(method)", principal: principal)
      #expect((decision == .allow) == [.platformOperator, .admin].contains(role), "\(role) \(method)")
    }
  }

  /// A copy of the repository's migrations plus one expand migration for scheduler.
  static func migrationsRoot() throws -> (root: String, extra: Int) {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("maestro-migrations-\(UUID().uuidString)").path
    for service in ManagedService.catalog.map(\.name) {
      let source = "\(TestEnvironment.servicesRoot)/\(service)/migrations"
      try FileManager.default.createDirectory(atPath: "\(root)/\(service)", withIntermediateDirectories: true)
      try FileManager.default.copyItem(atPath: source, toPath: "\(root)/\(service)/migrations")
    }
    let extra = try MigrationFixtures.baseVersion() + 1
    try """
      CREATE TABLE rpc_probe (id bigint PRIMARY KEY);
      -- maestro:down
      DROP TABLE rpc_probe;
      """.write(toFile: String(format: "%@/scheduler/migrations/%04d_rpc_probe.sql", root, extra), atomically: true, encoding: .utf8)
    return (root, extra)
  }

  @Test("plan, lint, apply, status, rollback and register through the API; the process registers its own expectation")
  func endToEnd() async throws {
    let (root, extra) = try Self.migrationsRoot()
    defer { try? FileManager.default.removeItem(atPath: root) }
    try await TestDatabase.with { db in
      try await db.migrate()
      let issuer = try await TestTokenIssuer.make()
      try await issuer.withJWKSFile { jwksFile in
        let process = try ServiceProcess(
          name: "migration-service",
          arguments: ["serve", "--host", "127.0.0.1", "--grpc-port", "0", "--admin-port", "0"],
          environment: [
            "MAESTRO_DATABASE_URL": db.serviceURL(schema: "migration"),
            "MAESTRO_ADMIN_DATABASE_URL": db.adminURL,
            "MAESTRO_ROLE_PREFIX": db.rolePrefix,
            "MAESTRO_JWKS_FILE": jwksFile,
            "MAESTRO_MIGRATIONS_DIR": root,
            "MAESTRO_INSTANCE_ID": "migration-pod-1",
            "MAESTRO_LOG_FORMAT": "json",
          ]
        )
        let port = try await process.port("grpc_port")
        let operatorToken = try await issuer.sign(TestTokenIssuer.claims(roles: ["platform-operator"]))
        let authorToken = try await issuer.sign(TestTokenIssuer.claims(roles: ["workflow-author", "tenant-admin"]))
        let asOperator: Metadata = ["authorization": "Bearer \(operatorToken)"]
        try await withGRPCClient(
          transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
        ) { client in
          let api = Maestro_Migration_V1_MigrationService.Client(wrapping: client)

          let denied = await #expect(throws: RPCError.self) {
            try await api.apply(.with { $0.phase = .expand }, metadata: ["authorization": "Bearer \(authorToken)"])
          }
          #expect(denied?.code == .permissionDenied)

          let plan = try await api.plan(.with { $0.service = "scheduler" }, metadata: asOperator)
          #expect(plan.services.first?.pending.map(\.version) == [Int64(extra)])
          #expect(plan.services.first?.blockers == [])

          let lint = try await api.lint(.with { $0.sql = "SELECT 1;\nCREATE INDEX i ON runs (x);" }, metadata: asOperator)
          #expect(!lint.passed)
          #expect(lint.findings.first?.rule == "require-concurrent-index")
          #expect(lint.findings.first?.line == 2)
          #expect(lint.findings.first?.suggestion.contains("CONCURRENTLY") == true)
          #expect(try await api.lint(.init(), metadata: asOperator).passed)

          let missingPhase = await #expect(throws: RPCError.self) { try await api.apply(.init(), metadata: asOperator) }
          #expect(missingPhase?.code == .invalidArgument)
          #expect(missingPhase?.message.contains("phase") == true)

          let applied = try await api.apply(.with { $0.phase = .expand }, metadata: asOperator)
          #expect(applied.applied.map(\.version) == [Int64(extra)])

          let status = try await api.getStatus(.with { $0.service = "scheduler" }, metadata: asOperator)
          #expect(status.services.first?.currentVersion == Int64(extra))
          #expect(status.services.first?.drift == [])

          let own = try await api.getStatus(.with { $0.service = "migration-service" }, metadata: asOperator)
          #expect(own.services.first?.expectations.map(\.instanceID) == ["migration-pod-1"])
          #expect(own.services.first?.expectations.first?.version == Int64(MigrationServer.requiredSchemaVersion))

          let registered = try await api.registerSchemaExpectation(.with {
            $0.service = "scheduler"
            $0.instanceID = "sched-1"
            $0.version = Int64(extra)
          }, metadata: asOperator)
          #expect(registered.satisfied)
          #expect(registered.currentVersion == Int64(extra))

          let rolledBack = try await api.rollback(.with {
            $0.service = "scheduler"
            $0.toVersion = Int64(extra - 1)
          }, metadata: asOperator)
          #expect(rolledBack.rolledBack.map(\.version) == [Int64(extra)])
          #expect(try await db.adminQuery("SELECT coalesce(to_regclass('scheduler.rpc_probe')::text, 'absent')") == ["absent"])
        }
        let exit = try await process.stop(signal: SIGTERM, timeout: .seconds(10))
        #expect(exit == 0)
        // Withdrawn on graceful shutdown.
        #expect(try await db.adminQuery("SELECT count(*)::text FROM migration.schema_expectations WHERE instance_id = 'migration-pod-1'") == ["0"])
      }
    }
  }
}
