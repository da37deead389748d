import AsyncHTTPClient
import Crypto
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import MaestroKit
import MaestroProtos
import MaestroTestSupport
import NIOCore
import Testing

/// The built `auth-gateway` executable against a real database: gRPC and REST on ports it
/// picks, two replicas sharing one database.
@Suite("auth-gateway processes (real gRPC, real REST, two replicas)")
struct GatewayProcessTests {
  static func start(_ db: TestDatabase, masterKey: String, directory: String) throws -> ServiceProcess {
    try ServiceProcess(
      name: "auth-gateway",
      arguments: ["serve", "--host", "127.0.0.1", "--grpc-port", "0", "--admin-port", "0", "--rest-port", "0"],
      environment: [
        "MAESTRO_DATABASE_URL": db.serviceURL(schema: "auth"),
        "MAESTRO_MASTER_KEY": masterKey,
        "MAESTRO_BOOTSTRAP_ADMIN_PASSWORD": "process test admin password",
        "MAESTRO_BOOTSTRAP_SECRETS_DIR": directory + "/secrets",
        "MAESTRO_LOG_FORMAT": "json",
      ]
    )
  }

  /// Polls gRPC health until SERVING (bootstrap and key loading run before it).
  static func serving(_ port: Int) async throws -> Bool {
    await eventually(within: .seconds(60)) {
      (try? await HealthProbe.check(target: "127.0.0.1:\(port)", service: "", timeout: .seconds(1))) == .serving
    } != nil
  }

  static func withClient<Result: Sendable>(port: Int, _ body: (Maestro_Auth_V1_AuthService.Client<HTTP2ClientTransport.Posix>) async throws -> Result) async throws -> Result {
    try await withGRPCClient(
      transport: .http2NIOPosix(target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext)
    ) { client in
      try await body(Maestro_Auth_V1_AuthService.Client(wrapping: client))
    }
  }

  static func adminToken(_ auth: Maestro_Auth_V1_AuthService.Client<HTTP2ClientTransport.Posix>) async throws -> String {
    try await auth.token(.with {
      $0.grantType = "password"
      $0.username = "admin"
      $0.password = "process test admin password"
    }).accessToken
  }

  @Test("token, whoami and RBAC over gRPC; REST on its own port; a revocation on one replica is refused by the other within 1 s")
  func twoReplicas() async throws {
    try await TestDatabase.with { db in
      try await db.migrate()
      let directory = FileManager.default.temporaryDirectory.appendingPathComponent("maestro-gw-\(UUID().uuidString)").path
      defer { try? FileManager.default.removeItem(atPath: directory) }
      let masterKey = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString()
      let first = try Self.start(db, masterKey: masterKey, directory: directory)
      let firstPort = try await first.port("grpc_port")
      let restPort = try await first.port("rest_port")
      #expect(try await Self.serving(firstPort))
      let second = try Self.start(db, masterKey: masterKey, directory: directory)
      let secondPort = try await second.port("grpc_port")
      #expect(try await Self.serving(secondPort))

      try await Self.withClient(port: firstPort) { first in
        try await Self.withClient(port: secondPort) { second in
          let token = try await Self.adminToken(first)
          let metadata: Metadata = ["authorization": "Bearer \(token)"]
          let me = try await second.whoAmI(.init(), metadata: metadata)
          #expect(me.tenant == "default")
          #expect(me.roles == [.admin])
          #expect(me.name == "admin")

          let unauthenticated = await #expect(throws: RPCError.self) { try await second.listUsers(.init()) }
          #expect(unauthenticated?.code == .unauthenticated)

          _ = try await first.createUser(.with {
            $0.user.username = "viewer"
            $0.password = "viewer password 123"
            $0.roles = [.viewer]
          }, metadata: metadata)
          let viewer = try await first.token(.with {
            $0.grantType = "password"
            $0.username = "viewer"
            $0.password = "viewer password 123"
          }).accessToken
          let denied = await #expect(throws: RPCError.self) {
            try await second.listUsers(.init(), metadata: ["authorization": "Bearer \(viewer)"])
          }
          #expect(denied?.code == .permissionDenied)

          let wrong = await #expect(throws: RPCError.self) {
            try await first.token(.with {
              $0.grantType = "password"
              $0.username = "admin"
              $0.password = "not it at all"
            })
          }
          #expect(wrong?.code == .unauthenticated)
          #expect(wrong?.message.hasPrefix("invalid_grant") == true)

          // Revoke the viewer's session on replica 1; replica 2 refuses its token within 1 s.
          let viewerMe = try await second.whoAmI(.init(), metadata: ["authorization": "Bearer \(viewer)"])
          _ = try await first.revokeSession(.with { $0.sessionID = viewerMe.sessionID }, metadata: metadata)
          let refused = try await eventually(within: .seconds(1)) {
            do {
              _ = try await second.whoAmI(.init(), metadata: ["authorization": "Bearer \(viewer)"])
              return false
            } catch let error as RPCError {
              return error.code == .unauthenticated
            }
          }
          #expect(refused != nil, "replica 2 still accepted a revoked session's token after 1 s")
        }
      }

      let request = {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(restPort)/v1/auth/token")
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
        request.body = .bytes(ByteBuffer(string: "grant_type=password&username=admin&password=process+test+admin+password"))
        return request
      }()
      let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
      #expect(response.status == .ok)
      let body = try await response.body.collect(upTo: 1 << 16)
      #expect(String(buffer: body).contains("\"access_token\""))

      #expect(try await first.stop() == 0)
      #expect(try await second.stop() == 0)
    }
  }

  @Test("without a master key the gateway refuses to start and says how to provide one")
  func noMasterKey() async throws {
    let process = try ServiceProcess(name: "auth-gateway", arguments: ["serve", "--grpc-port", "0", "--admin-port", "0", "--rest-port", "0"], environment: ["MAESTRO_MASTER_KEY": "", "MAESTRO_MASTER_KEY_FILE": ""])
    #expect(try await process.waitForExit(timeout: .seconds(30)) == 2)
    #expect(process.output.contains("MAESTRO_MASTER_KEY"))
  }
}
